"""The ``connmw-probe/1`` and ``connmw-check/1`` JSON documents as JSON Schema (2020-12).

The human description is in :mod:`connmw.tool.probe`'s docstring; this is the same contract
for machines, and the test suite validates real output against it. Within a schema
version fields are only ever added (so objects allow additional properties), never
renamed, removed or given new meanings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["CHECK_SCHEMA", "PROBE_SCHEMA", "validate"]

_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}

FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["severity", "code", "message", "rfc"],
    "properties": {
        "severity": {"enum": ["error", "warning", "info"]},
        "code": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        "message": {"type": "string"},
        "rfc": {"type": "string", "pattern": "^RFC [0-9]+ §[0-9.]+$"},
    },
}

CASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id", "title", "request", "verdict", "status", "response_version", "connection", "announced",
        "announced_by", "socket", "framing", "leaked", "findings", "error", "elapsed_ms",
    ],
    "properties": {
        "id": {
            "enum": [
                "post-http11", "post-http10", "post-http11-close", "post-http10-keep-alive", "head-http11",
                "get-nominated", "ws-valid", "ws-bad-version", "ws-foreign-origin", "h2-get",
            ]
        },
        "title": {"type": "string"},
        "request": {
            "type": "object",
            "required": ["method", "http_version", "headers"],
            "properties": {
                "method": {"enum": ["GET", "HEAD", "POST"]},
                "http_version": {"enum": ["1.0", "1.1", "2"]},
                "headers": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                },
            },
        },
        "verdict": {"enum": ["ok", "warning", "error", "skipped"]},
        "status": {"type": ["integer", "null"], "minimum": 100, "maximum": 999},
        "response_version": {"enum": ["1.0", "1.1", "2", None]},
        "connection": _STRINGS,
        "announced": {"enum": ["keep-alive", "close", None]},
        "announced_by": {"enum": ["header", "default", "framing", None]},
        "socket": {"enum": ["kept", "closed", "open", "unknown", "n/a"]},
        "framing": {"enum": ["content-length", "chunked", "close-delimited", "none", None]},
        "leaked": _STRINGS,
        "findings": {"type": "array", "items": FINDING_SCHEMA},
        "error": _NULLABLE_STRING,
        "elapsed_ms": {"type": "number", "minimum": 0},
    },
}  # fmt: skip

PROBE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "connmw-probe/1",
    "type": "object",
    "required": [
        "schema", "connmw_version", "url", "target", "exit_code", "outcome", "reason", "summary", "cases",
    ],
    "properties": {
        "schema": {"const": "connmw-probe/1"},
        "connmw_version": {"type": "string"},
        "url": {"type": "string"},
        "target": {
            "type": "object",
            "required": ["scheme", "host", "port", "path", "ws_path"],
            "properties": {
                "scheme": {"enum": ["http", "https"]},
                "host": {"type": "string"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "path": {"type": "string"},
                "ws_path": {"type": "string"},
            },
        },
        "exit_code": {"enum": [0, 1, 2]},
        "outcome": {"enum": ["clean", "findings", "unprobeable"]},
        "reason": _NULLABLE_STRING,
        "summary": {
            "type": "object",
            "required": ["error", "warning", "info"],
            "properties": {key: {"type": "integer", "minimum": 0} for key in ("error", "warning", "info")},
        },
        "cases": {"type": "array", "items": CASE_SCHEMA},
    },
}  # fmt: skip

WRAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["wrapped", "instances", "via", "options", "error"],
    "properties": {
        "wrapped": {"enum": [True, False, None]},  # None: could not tell
        "instances": {"type": "integer", "minimum": 0},
        "via": _NULLABLE_STRING,
        "options": {"type": ["object", "null"]},
        "error": _NULLABLE_STRING,
    },
}

CHECK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "connmw-check/1",
    "type": "object",
    "required": ["schema", "app", "interface", "server", "exit_code", "reason", "probe"],
    "properties": {
        "schema": {"const": "connmw-check/1"},
        "app": {"type": "string"},
        "interface": {"enum": ["asgi", "wsgi", None]},
        "server": _NULLABLE_STRING,
        "exit_code": {"enum": [0, 1, 2]},
        "reason": _NULLABLE_STRING,
        "probe": {"oneOf": [{"type": "null"}, PROBE_SCHEMA]},
        # added in connmw 0.2.0 (fields are only ever added within a schema version)
        "connmw": {"oneOf": [{"type": "null"}, WRAPPING_SCHEMA]},
    },
}


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``, one message per problem (empty: valid).

    Knows the subset of JSON Schema the documents above use (type, const, enum,
    required, properties, items, minItems/maxItems, pattern, minimum/maximum, oneOf),
    so consumers and tests can check a document without a jsonschema dependency.
    """
    if "oneOf" in schema:
        matches = sum(1 for option in schema["oneOf"] if not validate(value, option, where))
        return [] if matches == 1 else [f"{where}: matches {matches} of oneOf"]
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[name](value) for name in types):
            return [*errors, f"{where}: {value!r} is not {' or '.join(types)}"]
    if isinstance(value, dict):
        errors += [f"{where}: missing {key}" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += validate(value[key], sub, f"{where}.{key}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            errors.append(f"{where}: {len(value)} items")
        for index, item in enumerate(value):
            errors += validate(item, schema.get("items", {}), f"{where}[{index}]")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        errors.append(f"{where}: {value} out of range")
    return errors
