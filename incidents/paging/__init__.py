"""Paging: who is paged for an incident, when, over which contact methods, and what they can do
with a page.

escalation.py runs an incident's escalation (runs and pages are rows; the timer engine wakes them);
delivery.py sends pages through oncall's channels, throttled and bundled per contact method;
messages.py says what a page says; links.py signs its single-use action links and reply token;
replies.py acts on emailed "ack"/"resolve"; views.py and urls.py are its pages. The engine
(escalation, delivery, messages, links) sits below incidents.services, which starts and stops
it; replies and views sit above, and act through services.
"""
