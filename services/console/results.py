"""Results for people: which template shows a service's result, and the values it needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from services.catalogue.registry import find_service

RESULT_TEMPLATE = "services/results/{}.html"


def result_template(service_id: str) -> str | None:
    """The partial `templates/services/results/<service>.html` of the service (an alias finds
    its service's), or None when it has none: the page then shows the raw JSON only."""
    definition = find_service(service_id)
    name = RESULT_TEMPLATE.format(definition.id if definition else service_id)
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


@dataclass(frozen=True)
class FieldRow:
    """One extracted field as a table row: text, a list of texts, or JSON for anything nested."""

    name: str
    kind: str  # "text", "list", "json" or "empty"
    value: Any


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_rows(data: Any) -> list[FieldRow]:
    """The keys of an extracted object, in order, each shaped for a table cell."""
    if not isinstance(data, dict):
        return []
    rows = []
    for name, value in data.items():
        if value is None or value == "" or value == [] or value == {}:
            rows.append(FieldRow(str(name), "empty", ""))
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            rows.append(FieldRow(str(name), "list", [_text(v) for v in value]))
        elif isinstance(value, dict | list):
            rows.append(
                FieldRow(str(name), "json", json.dumps(value, indent=2, ensure_ascii=False))
            )
        else:
            rows.append(FieldRow(str(name), "text", _text(value)))
    return rows


def result_context(service_id: str, inner: dict[str, Any]) -> dict[str, Any]:
    """What a result partial reads: `out` (the service's output), `meta` and `fields` (the
    output's keys as table rows)."""
    out = inner.get("result")
    meta = inner.get("metadata")
    return {
        "result_template": result_template(service_id),
        "out": out,
        "meta": meta if isinstance(meta, dict) else {},
        "fields": field_rows(out),
    }
