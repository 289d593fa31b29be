"""Error answers of the REST API, declared once for the OpenAPI document.

drf-spectacular documents only the success of each operation, yet every operation can also answer
401/403 and, depending on its shape, 400, 404, 409 or 415. Clients (and the schemathesis test)
read the document as the whole truth, so the schema class adds each error where the operation
can really answer it, with the body `incidents.api.exception_handler` and DRF send."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

MESSAGES = {"type": "array", "items": {"type": "string"}}
COMPONENTS = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": "Each invalid field with its messages; `non_field_errors` for the input "
                       "as a whole; only `detail` when the body is not readable JSON.",
        "properties": {"detail": {"type": "string"}, "non_field_errors": MESSAGES},
        "additionalProperties": MESSAGES,
    },
    "Conflict": {
        "type": "object",
        "description": "The incident's state forbids the change; the field at fault, if any, "
                       "with the same message.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "additionalProperties": MESSAGES,
    },
}
ERRORS = {
    "400": ("ValidationError", "Invalid input."),
    "401": ("Error", "No token, or an invalid or revoked one."),
    "403": ("Error", "The caller's role may not do this."),
    "404": ("Error", "No such object, or not visible to the caller; or a page past the last."),
    "409": ("Conflict", "The current state forbids this change."),
    "415": ("Error", "The body is not JSON."),
}


class RelayAutoSchema(AutoSchema):
    """Set `answers_conflict = True` on a view whose POST operations call services that raise
    Conflict (answered 409 by config.errors)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for status in self._error_statuses(operation):
            operation["responses"].setdefault(status, self._error(status))
        return operation

    def _error_statuses(self, operation: dict) -> list[str]:
        params = operation.get("parameters", [])
        query = {p["name"] for p in params if p["in"] == "query"}
        has_body = "requestBody" in operation
        statuses = ["401", "403"]
        if has_body or query - {"page"}:
            statuses.append("400")
        # A path parameter names an object; `page` past the last page also answers 404.
        if "page" in query or any(p["in"] == "path" for p in params):
            statuses.append("404")
        if self.method == "POST" and getattr(self.view, "answers_conflict", False):
            statuses.append("409")
        if has_body:
            statuses.append("415")
        return statuses

    def _error(self, status: str) -> dict:
        name, description = ERRORS[status]
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name,
                                      schema=COMPONENTS[name])
        self.registry.register_on_missing(component)
        return {"description": description,
                "content": {"application/json": {"schema": component.ref}}}
