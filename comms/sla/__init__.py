"""SLA clocks: tier and contract targets, business-hours calendars, the clocks of each incident,
their pauses, warnings and breaches (a timer-engine source), and the SLA page."""
