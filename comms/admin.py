# Each area registers its own models.
from comms.customers import admin as customers_admin  # noqa: F401
from comms.messages import admin as messages_admin  # noqa: F401
from comms.sla import admin as sla_admin  # noqa: F401
from comms.status import admin as status_admin  # noqa: F401
