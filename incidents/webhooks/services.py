"""Configuration writes of outgoing webhooks: subscriptions, from the portal and the admin alike.
The model's validators refuse local and private URLs; full_clean runs them on every path. `by` is
the acting user."""

from django.db import transaction

from incidents import audit
from incidents.models import WebhookSubscription

# The signing secret never reaches the audit log, only the news that it changed; the URL does.
SECRETS = ("secret",)


def save_subscription(*, by, subscription: WebhookSubscription,
                      **fields) -> WebhookSubscription:
    """Create (an unsaved subscription) or change one."""
    for name, value in fields.items():
        setattr(subscription, name, value)
    # An empty event list means every event, though the model field is not blank=True; the
    # forms already let it through.
    subscription.full_clean(exclude={"events"} if subscription.events == [] else None)
    with transaction.atomic(), audit.recording("webhook", subscription, actor=by,
                                               secrets=SECRETS):
        subscription.save()
    return subscription


def delete_subscription(*, by, subscription: WebhookSubscription) -> None:
    with transaction.atomic():
        audit.log_delete("webhook", subscription, actor=by, secrets=SECRETS)
        subscription.delete()
