"""Customer messages: drafts, approval, publication and per-recipient delivery; the update
cadence that prepares drafts from phase templates and reminds the communications lead; the
communication log on the incident page."""
