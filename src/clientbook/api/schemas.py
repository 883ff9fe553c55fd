"""OpenAPI request and response schemas, generated from the domain's attribute catalogue so
that the documentation and the validation can never disagree (the rules live in the domain)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clientbook.domain.customers import CUSTOMER_ATTRIBUTES
from clientbook.domain.fields import Field

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "enum": {"type": "string"},
    "relation": {"type": "string", "description": "a user $id"},
    "datetime": {"type": "string", "format": "date-time"},
    "float": {"type": "number"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "json": {"type": "string", "description": "a JSON object, as text (or an object on input)"},
}


def field_schema(field: Field, *, nullable: bool, for_input: bool) -> dict[str, Any]:
    schema = dict(_KIND_SCHEMAS[field.kind])
    if field.kind == "enum":
        schema["enum"] = list(field.values)
    if field.size and field.kind != "json":
        schema["maxLength"] = field.size
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.kind == "json" and for_input:
        schema = {"anyOf": [{"type": "string"}, {"type": "object"}]}
    if nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def object_schema(
    fields: Mapping[str, Field], *, for_input: bool, required: list[str] | None = None
) -> dict[str, Any]:
    properties = {
        name: field_schema(f, nullable=not f.required or not for_input, for_input=for_input)
        for name, f in fields.items()
    }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if for_input:
        schema["additionalProperties"] = False
    return schema


def body_doc(properties: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a small JSON body parsed by the route itself."""
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


_WRITABLE = {n: f for n, f in CUSTOMER_ATTRIBUTES.items() if n not in ("createdBy", "updatedBy")}
CUSTOMER_INPUT = object_schema({"$id": Field("string", 36), **_WRITABLE}, for_input=True)
CUSTOMER_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": CUSTOMER_INPUT}}}
}
CUSTOMER_OUTPUT = object_schema(
    {
        "$id": Field("string", required=True),
        "$createdAt": Field("datetime", required=True),
        "$updatedAt": Field("datetime", required=True),
        **CUSTOMER_ATTRIBUTES,
    },
    for_input=False,
    required=["$id", "$createdAt", "$updatedAt", "userId", "name", "status", "customerType"],
)


def page_schema(items: dict[str, Any]) -> dict[str, Any]:
    """Every list answers `{"total", "rows", "cursor"}` (SPEC §7)."""
    return {
        "type": "object",
        "required": ["total", "rows", "cursor"],
        "properties": {
            "total": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "rows": {"type": "array", "items": items},
            "cursor": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "the next page's cursor",
            },
        },
    }


# The paging parameters every list takes, for `query_parameters`.
PAGING: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "rows per page (25)"),
    ("offset", {"type": "integer", "minimum": 0}, "rows to skip (after `cursor`, if given)"),
    ("cursor", {"type": "string"}, "the `cursor` of the previous page"),
    ("total", {"type": "boolean"}, "`false` skips the count"),
)


def query_parameters(*entries: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    """`openapi_extra` documenting query parameters a route reads from the query string itself."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
            for name, schema, text in entries
        ]
    }


CUSTOMER_PAGE = page_schema(CUSTOMER_OUTPUT)
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return json_response(description, ERROR)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Bad query parameter"),
    405: _error("Method not allowed"),
    413: _error("Body too large"),
    500: _error("Unexpected server error (never caused by input)"),
    401: _error("Not signed in"),
    403: _error("Not allowed"),
    404: _error("Not found"),
    409: _error("Conflict"),
    412: _error("Stale If-Match"),
    415: _error("Not JSON"),
    422: _error("Validation failed"),
    429: _error("Throttled"),
}


CUSTOMER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response("The customer", CUSTOMER_OUTPUT),
    201: json_response("Created", CUSTOMER_OUTPUT),
    **ERROR_RESPONSES,
}


def document_error_responses(app: Any) -> None:
    """Every operation can answer with the one error shape: say so in the OpenAPI document,
    once, instead of in every route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.setdefault("responses", {})
                    for status, response in ERROR_RESPONSES.items():
                        responses.setdefault(str(status), response)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
