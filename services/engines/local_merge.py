"""New facts merged into known ones and fitted to a JSON Schema: merge, the mapping of known
facts onto the schema's names, validation errors, repair of values that do not fit, defaults
for required fields."""

from __future__ import annotations

import copy
import re
from typing import Any

from jsonschema.validators import validator_for

from services.engines.local_extraction import SchemaView, kind_of_node, stems_of_name


def merge(current: Any, new: Any) -> Any:
    """New facts over existing ones: scalars are replaced, lists are united without duplicates
    (existing items first), objects are merged key by key."""
    if isinstance(current, dict) and isinstance(new, dict):
        out = copy.deepcopy(current)
        for key, value in new.items():
            out[key] = merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    if isinstance(current, list) and isinstance(new, list):
        out_list = copy.deepcopy(current)
        seen = [_identity(item) for item in out_list]
        for item in new:
            if _identity(item) not in seen:
                out_list.append(copy.deepcopy(item))
                seen.append(_identity(item))
        return out_list
    return copy.deepcopy(new)


def _identity(item: Any) -> Any:
    if isinstance(item, str):
        return re.sub(r"\s+", " ", item.strip().lower())
    return item


def map_current(
    current: dict[str, Any], schema: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Existing facts fitted to the schema: a key the schema lacks moves to the one property
    whose name it contains ("previous_symptoms" -> "symptoms") when the types agree; else it
    stays if the schema allows extra properties, or is dropped. Returns (facts, moved, dropped)."""
    view = SchemaView(schema)
    root = view.resolve(schema)
    properties = root.get("properties") or {}
    if not properties:
        return copy.deepcopy(current), {}, []
    closed = root.get("additionalProperties") is False or root.get("unevaluatedProperties") is False
    out: dict[str, Any] = {}
    moved: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in current.items():
        if key in properties:
            out[key] = merge(out[key], value) if key in out else copy.deepcopy(value)
            continue
        key_stems = set(stems_of_name(key))
        matches = []
        for name, raw in properties.items():
            name_stems = set(stems_of_name(name))
            node = view.resolve(raw)
            kind, _ = kind_of_node(node)
            compatible = (
                (isinstance(value, list) and kind == "array")
                or (isinstance(value, dict) and kind == "object")
                or (isinstance(value, str) and kind in {"string", "enum", "array"})
                or (isinstance(value, bool) and kind == "boolean")
                or (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and kind in {"integer", "number"}
                )
            )
            if compatible and name_stems and (name_stems <= key_stems or key_stems <= name_stems):
                matches.append((name, kind))
        if len(matches) == 1:
            name, kind = matches[0]
            fitted = [value] if kind == "array" and not isinstance(value, list) else value
            out[name] = merge(out[name], fitted) if name in out else copy.deepcopy(fitted)
            moved[key] = name
        elif closed:
            dropped.append(key)
        else:
            out[key] = copy.deepcopy(value)
    return out, moved, dropped


def schema_errors(schema: dict[str, Any], instance: Any, limit: int = 10) -> list[str]:
    """Readable violations of `schema` by `instance` ("severity: 'extreme' is not one of …")."""
    cls = validator_for(schema)
    errors = sorted(cls(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for error in errors[:limit]:
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(f"{path}: {error.message}")
    return out


def repair(schema: dict[str, Any], instance: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Remove the values that break `schema` (an invalid enum value, a wrong type, an extra key
    of a closed object) when they can go; returns the result and the paths removed. What still
    fails (a missing required field) is left for the caller to report."""
    cls = validator_for(schema)
    validator = cls(schema)
    removed: list[str] = []
    data = copy.deepcopy(instance)
    for _ in range(50):
        errors = sorted(validator.iter_errors(data), key=lambda e: -len(e.absolute_path))
        changed = False
        for error in errors:
            path = list(error.absolute_path)
            if error.validator in {"additionalProperties", "unevaluatedProperties"} and isinstance(
                error.instance, dict
            ):
                allowed = (
                    set((error.schema or {}).get("properties", {}))
                    if isinstance(error.schema, dict)
                    else set()
                )
                for key in [k for k in error.instance if k not in allowed]:
                    if _delete(data, [*path, key]):
                        removed.append(".".join(str(p) for p in [*path, key]))
                        changed = True
                break
            if error.validator == "required" or not path:
                continue
            if error.validator in {"maxItems", "uniqueItems"} and isinstance(error.instance, list):
                # a merged list that grew too long keeps its newest items
                items = list(error.instance)
                if error.validator == "uniqueItems":
                    items = [x for i, x in enumerate(items) if x not in items[:i]]
                else:
                    items = items[len(items) - int(error.validator_value) :]
                if _replace(data, path, items):
                    changed = True
                    break
            if _delete(data, path):
                removed.append(".".join(str(p) for p in path))
                changed = True
                break
        if not changed:
            break
    return data, removed


def _replace(data: Any, path: list[Any], value: Any) -> bool:
    target = data
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return False
    try:
        target[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _delete(data: Any, path: list[Any]) -> bool:
    target = data
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    if isinstance(target, dict) and last in target:
        del target[last]
        return True
    if isinstance(target, list) and isinstance(last, int) and last < len(target):
        del target[last]
        return True
    return False


def fill_required(
    schema: dict[str, Any], data: dict[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """Fill missing required fields from a default, a const, null (where the schema allows it)
    or an empty list (in place); an optional nested object that cannot be completed is removed.
    Returns (filled paths, still missing paths, removed incomplete objects)."""
    view = SchemaView(schema)
    defaulted: list[str] = []
    removed: list[str] = []

    def walk(node: dict[str, Any], obj: dict[str, Any], path: str) -> list[str]:
        properties = node.get("properties") or {}
        required = node.get("required", []) or []
        missing: list[str] = []
        for name, raw in properties.items():
            sub = view.resolve(raw)
            if name in obj and isinstance(obj[name], dict) and kind_of_node(sub)[0] == "object":
                child_path = f"{path}.{name}" if path else name
                child_missing = walk(sub, obj[name], child_path)
                if child_missing and name not in required:
                    del obj[name]
                    removed.append(child_path)
                else:
                    missing += child_missing
        for name in required:
            if name in obj:
                continue
            sub = view.resolve(properties.get(name, {}))
            child_path = f"{path}.{name}" if path else name
            kind, nullable = kind_of_node(sub)
            if "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            elif "const" in sub:
                obj[name] = copy.deepcopy(sub["const"])
            elif nullable:
                obj[name] = None
            elif kind == "array" and not sub.get("minItems"):
                obj[name] = []
            else:
                missing.append(child_path)
                continue
            defaulted.append(child_path)
        return missing

    still_missing = walk(view.resolve(schema), data, "")
    return defaulted, still_missing, removed


def required_absent(schema: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Paths of the required properties `data` does not have (inside the objects it has)."""
    view = SchemaView(schema)
    out: list[str] = []

    def walk(node: dict[str, Any], obj: dict[str, Any], path: str) -> None:
        properties = node.get("properties") or {}
        for name in node.get("required", []) or []:
            if name not in obj:
                out.append(f"{path}.{name}" if path else name)
        for name, value in obj.items():
            if isinstance(value, dict) and name in properties:
                walk(view.resolve(properties[name]), value, f"{path}.{name}" if path else name)

    walk(view.resolve(schema), data, "")
    return out
