"""Admin registrations of this area (comms/admin.py imports them)."""
