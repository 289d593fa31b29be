"""Alert intake: monitoring tools' events in, well-routed incidents out.

formats/ parses each vendor's payload into normalised events (pure: it knows no HTTP and no
database writes); endpoints.py is the HTTP surface; keys.py admits a request (key, signature,
rate); pipeline.py stores, dedups and groups alerts, with its hot statements in hot.py and its
per-process view of a service in routing.py; rules.py decides severity, suppression and routing;
heartbeats.py raises missed pings. views, forms, api and admin are the portal, API and admin
pages of services, integrations, rules and maintenance windows.
"""
