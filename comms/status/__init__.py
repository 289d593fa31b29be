"""The public status page: components, maintenance, shown incidents, subscribers and feeds.

- public.py reads what the page shows (one source for HTML, JSON and feeds);
- cache.py keeps every public response warm (no query per request);
- components.py and listeners.py change components and follow the incidents' timelines;
- maintenance.py moves scheduled maintenance along (a timer source);
- notices.py and delivery.py tell subscribers (an outbox);
- pages.py, v2.py and feeds.py are the public page, Statuspage's JSON and Atom/RSS;
- subscribe.py the subscription pages; manage.py the staff pages.
"""
