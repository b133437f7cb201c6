"""Request bodies a route reads itself, shown in the OpenAPI document all the same.

Some routes relay a device's body to the upstream store byte-exact, so they read the raw
bytes and check the decoded document with a pydantic model themselves
(:func:`check_document`; FastAPI's "custom OpenAPI path operation schema");
:func:`request_body` puts that model in the route's ``openapi_extra``, so the document
describes the real body (and schemathesis fuzzes it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from shared.errors import BadRequest, describe_validation_errors

REF_PREFIX = "#/$defs/"


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` to a definition replaced by the definition itself (an
    operation's schema cannot refer to ``$defs``: they would resolve against the document)."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(REF_PREFIX):
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return {**_inline(definitions[reference[len(REF_PREFIX) :]], definitions), **rest}
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema (field aliases as names), self-contained."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, definitions)
    return inlined


def check_document(model: type[BaseModel], document: Any) -> None:
    """BadRequest, in the validation's own words, unless ``document`` is a ``model``."""
    try:
        model.model_validate(document)
    except ValidationError as exc:
        raise BadRequest(describe_validation_errors(exc.errors())) from None


def request_body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """``openapi_extra`` saying the route takes a body of ``model`` (required)."""
    return {
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": json_schema(model)}},
        }
    }
