"""Every model of the incidents app, one module per sub-domain, all under the app label
`incidents` (so tables and migrations are those of one app). Import from here."""

from incidents.models.audit import *  # noqa: F403
from incidents.models.core import *  # noqa: F403
from incidents.models.intake import *  # noqa: F403
from incidents.models.paging import *  # noqa: F403
from incidents.models.webhooks import *  # noqa: F403
