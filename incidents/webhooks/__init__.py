"""Outgoing webhooks: subscriptions to incident events, delivered from an outbox (outbox.py)
as signed JSON through the guarded outbound client; their portal pages and admin."""
