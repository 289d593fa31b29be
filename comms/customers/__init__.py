"""Customers: accounts, contacts and contracts; the CSV import and API sync; an incident's
affected customers; a CSM reporting a customer's issue; the owning team's lead hearing of it."""
