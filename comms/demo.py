"""Demo data of customer communications (seed_demo calls seed()); each area adds its own."""


def seed(users, teams, services, tiers):
    for area in ("customers", "sla", "messages", "status"):
        module = __import__(f"comms.{area}.demo", fromlist=["seed"])
        module.seed(users, teams, services, tiers)
