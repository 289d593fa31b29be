"""One module per monitoring format. Each turns a request body into normalised events (events.py);
nothing outside this package knows what any vendor's payload looks like."""

from incidents.intake.formats import alertmanager, email, generic, grafana, pagerduty
from incidents.models import IntegrationFormat

# Formats whose body is JSON, by the parser that reads it.
JSON_PARSERS = {
    IntegrationFormat.ALERTMANAGER: alertmanager.parse,
    IntegrationFormat.GRAFANA: grafana.parse,
    IntegrationFormat.PAGERDUTY: pagerduty.parse,
    IntegrationFormat.GENERIC: generic.parse,
}
RAW_PARSERS = {IntegrationFormat.EMAIL: email.parse}
