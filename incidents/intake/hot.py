"""The hot SQL statements of alert intake, in one place.

A storm sends thousands of alerts a second at these; the ORM's planning and round trips cost
more than the statements themselves (measured, see README "Alert ingest"), so they are written
by hand and run through config.db.hot_cursor, which prepares them once per connection. Each is
the same rule the ORM path in pipeline.py applies; tests/incidents/intake checks both agree.
"""

from django.db import connection

UPSERT = """
INSERT INTO incidents_alert (integration_id, service_id, dedup_key, grouping_key, status,
    severity, summary, source, source_url, details, raw, count, first_seen, last_seen, processed)
VALUES (%s, %s, %s, %s, 'triggered', %s, %s, %s, %s, {json}, {json}, 1, %s, %s, %s)
ON CONFLICT (integration_id, dedup_key) WHERE NOT (status = 'resolved')
DO UPDATE SET count = incidents_alert.count + 1, last_seen = excluded.last_seen,
    raw = excluded.raw
RETURNING id, count, processed
"""


UPSERT_SQL = {vendor: UPSERT.format(json=json)
               for vendor, json in (("postgresql", "%s::jsonb"), ("sqlite", "%s"))}


# The bulk of a storm in one statement: a new alert joins the newest open incident of its service
# that had an alert (with the same grouping key, if the service groups by key) within the
# grouping window, when _route would do nothing else: the incident's timeline already names
# enough alerts, the alert is no more severe than the incident, and _route's flap guard does not
# count it as flapping (flap_threshold resolved alerts with its key, on an incident, in the flap
# window: then _route decides). Otherwise nothing changes and _route runs. The same lookup as
# _open_incident_for, in SQL planned once (test_grouping_authority.py feeds both the same cases
# and requires the same answer); the service's open incidents are found first (MATERIALIZED), so
# the recent-alert check runs for them only, not for every open incident of every service.
JOIN_QUIETLY = """
WITH open_here AS MATERIALIZED (
    SELECT i.id FROM {incident} i JOIN {incident_services} s ON s.incident_id = i.id
    WHERE s.service_id = %(service)s AND i.status IN ({open_statuses})
)
UPDATE {alert} SET processed = TRUE, severity = %(severity)s, incident_id = target.id
FROM (
    SELECT o.id FROM open_here o
    WHERE (SELECT a.id FROM {alert} a
           WHERE a.incident_id = o.id AND a.last_seen >= %(window_start)s AND a.id <> %(alert)s
             AND (NOT %(by_key)s OR a.grouping_key = %(grouping_key)s)
           LIMIT 1) IS NOT NULL
    ORDER BY o.id DESC LIMIT 1
) AS target, {incident} joined
WHERE {alert}.id = %(alert)s AND NOT {alert}.processed AND joined.id = target.id
  AND joined.severity <= %(severity)s
  AND (SELECT count(*) FROM (SELECT 1 FROM {alert} e WHERE e.incident_id = joined.id
                             AND e.id <> %(alert)s LIMIT {entries}) AS named) >= {entries}
  AND NOT (%(flap_threshold)s > 0 AND (
      SELECT count(*) FROM (SELECT 1 FROM {alert} r
                            WHERE r.integration_id = %(integration)s
                              AND r.dedup_key = %(dedup_key)s AND r.status = 'resolved'
                              AND r.incident_id IS NOT NULL AND r.resolved_at >= %(flap_start)s
                            LIMIT %(flap_threshold)s) AS flaps) >= %(flap_threshold)s)
RETURNING incident_id
"""


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


RESOLVE = """
UPDATE {alert} SET status = 'resolved', resolved_at = %(now)s
WHERE integration_id = %(integration)s AND dedup_key = %(dedup_key)s
  AND status IN ({unresolved})
RETURNING id, incident_id
"""
# Read with the incident's row locked first (its own statement, so this one's snapshot is taken
# after the wait): two resolves of its last two alerts cannot both see the other still open, the
# second waits for the first to commit and then sees it resolved.
LOCK_INCIDENT = "SELECT 1 FROM {incident} WHERE id = %(incident)s FOR UPDATE"
AFTER_RESOLVE = """
SELECT i.status, s.auto_resolve,
    EXISTS (SELECT 1 FROM {alert} o WHERE o.incident_id = i.id AND o.status IN ({unresolved})),
    (SELECT count(*) FROM (SELECT 1 FROM {alert} e WHERE e.incident_id = i.id
                           AND e.id <> %(alert)s LIMIT {entries}) AS named)
FROM {incident} i, {service} s WHERE i.id = %(incident)s AND s.id = %(service)s
"""
