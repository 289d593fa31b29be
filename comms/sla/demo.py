"""Demo data of this area, idempotent (seed_demo may run again on the same database)."""


def seed(users, teams, services, tiers):
    """`users` by username (commander, responder, csm, auditor, admin), `teams` and `services` by
    slug, `tiers` by slug (enterprise, business, …)."""
