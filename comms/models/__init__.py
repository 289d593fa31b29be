"""Customer communications: customers and their contracts, SLA clocks, customer messages."""
from comms.models.customers import *  # noqa: F401,F403
from comms.models.messages import *  # noqa: F401,F403
from comms.models.sla import *  # noqa: F401,F403
from comms.models.status import *  # noqa: F401,F403
