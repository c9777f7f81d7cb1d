"""Forms generated from an endpoint's JSON Schema (the playground) and the parameter table of the
service pages: both read the schema the API validates with, so they cannot drift from it.

Over 500 lines on purpose: it is one mapping, JSON Schema → form fields → parameters and back,
whose field kinds, parsing and rendering must change together; split, each half would need the
other's private helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from breact.params import NOT_BLANK_PATTERN
from breact.validation_messages import pattern_words

# Form inputs are named "p.<dotted path>" so they never collide with the page's own inputs.
PREFIX = "p."
# String parameters with these names (or allowing this many characters) get a textarea.
LONG_TEXT_NAMES = frozenset(
    {
        "text",
        "content",
        "knowledge",
        "additionalContext",
        "additional_context",
        "systemPrompt",
        "extraction_description",
        "signature",
    }
)
LONG_TEXT_MIN_LENGTH = 1000
# Array items up to this long may also be given comma separated on one line.
SHORT_ITEM_MAX_LENGTH = 200
_INTEGER = re.compile(r"^[+-]?\d+$")
SCALAR_TYPES = ("string", "integer", "number")

TEXT = "text"
TEXTAREA = "textarea"
SELECT = "select"
NUMBER = "number"
CHECKBOX = "checkbox"
CHOICES = "choices"  # an array of enum values: one checkbox per value
LINES = "lines"  # an array of strings or numbers: one item per line
JSON = "json"  # anything else: a JSON textarea for that parameter
GROUP = "group"  # an object with properties: a fieldset of its own fields
ROWS = "rows"  # an array of objects with properties: a repeatable fieldset per item
ROW_INDEX = "__INDEX__"  # the index of the blank row that "Add an item" copies


class FormData(Protocol):
    """What a bound form reads: a QueryDict (request.POST) or a MultiValueDict."""

    def get(self, key: str, default: Any = ...) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...

    def __contains__(self, key: object) -> bool: ...

    def __iter__(self) -> Iterator[Any]: ...


def _type(schema: Mapping[str, Any]) -> str | None:
    """The one JSON type of `schema`, ignoring "null" in a list of types; None when it has
    several (or none)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


def _scalar_enum(schema: Mapping[str, Any]) -> bool:
    values = schema.get("enum")
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, str | int | float | bool) for v in values)
    )


def _option(value: Any) -> str:
    """An enum value as an HTML option value: strings as they are, other scalars as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def field_kind(name: str, schema: Mapping[str, Any]) -> str:
    """Which control a parameter gets in the playground form."""
    kind = _type(schema)
    if _scalar_enum(schema):
        return SELECT
    if kind == "boolean":
        return CHECKBOX
    if kind in ("integer", "number"):
        return NUMBER
    if kind == "string":
        # "Not blank" is still free text; a URL, address or date is one line.
        free_text = (
            schema.get("pattern", NOT_BLANK_PATTERN) == NOT_BLANK_PATTERN and "format" not in schema
        )
        long = name in LONG_TEXT_NAMES or (
            free_text and int(schema.get("maxLength", 0)) >= LONG_TEXT_MIN_LENGTH
        )
        return TEXTAREA if long else TEXT
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict) and _type(items) == "object" and items.get("properties"):
            return ROWS
        if isinstance(items, dict):
            if _scalar_enum(items) and _type(items) in (None, *SCALAR_TYPES):
                return CHOICES
            if _type(items) in SCALAR_TYPES and "enum" not in items:
                return LINES
        return JSON
    if kind == "object" and isinstance(schema.get("properties"), dict) and schema["properties"]:
        return GROUP
    return JSON


def _lookup(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False, None
        data = data[key]
    return True, data


def _one_line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass
class SchemaField:
    """One parameter of the form: its place in the params, its control and its state."""

    path: tuple[str, ...]
    schema: dict[str, Any]
    required: bool
    kind: str
    children: list[SchemaField] = field(default_factory=list)
    # What the control shows: a string (text, textarea, number, select, lines, json),
    # a bool (checkbox) or a list of option values (choices).
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    # Whether the control starts at the schema's default. Inside an optional object the default
    # is only shown (placeholder, option label), so the object stays out of the call until used.
    prefill_default: bool = True
    # Labels of option values (e.g. a knowledge base's name for its id); the value otherwise.
    labels: dict[str, str] = field(default_factory=dict)
    # ROWS: the items shown (their fields), and those that went into the params, in order.
    entries: list[list[SchemaField]] = field(default_factory=list)
    sent_entries: list[list[SchemaField]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The dotted path, as the API's error paths name it: context.allowedClasses."""
        return ".".join(self.path)

    @property
    def html_name(self) -> str:
        return PREFIX + self.name

    @property
    def html_id(self) -> str:
        return "param-" + "-".join(self.path)

    @property
    def label(self) -> str:
        return self.path[-1]

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))

    @property
    def type_label(self) -> str:
        return type_label(self.schema)

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def has_default(self) -> bool:
        return "default" in self.schema

    @property
    def placeholder(self) -> str:
        if self.kind in (TEXT, TEXTAREA, NUMBER, JSON, LINES) and self.has_default:
            default = self.default
            if self.kind == LINES and isinstance(default, list):
                return "Default: " + ", ".join(_one_line(v) for v in default) if default else ""
            return f"Default: {_one_line(default)}"
        return ""

    @property
    def help(self) -> str:
        if self.kind == LINES:
            return "One per line." + (" Commas also separate items." if self._short_items else "")
        if self.kind == JSON:
            return f"JSON ({self.type_label})."
        return ""

    @property
    def _items(self) -> dict[str, Any]:
        items = self.schema.get("items")
        return items if isinstance(items, dict) else {}

    @property
    def _short_items(self) -> bool:
        items = self._items
        if _type(items) in ("integer", "number"):
            return True
        limit = items.get("maxLength")
        return "pattern" in items or (limit is not None and int(limit) <= SHORT_ITEM_MAX_LENGTH)

    @property
    def enum_values(self) -> list[Any]:
        source = self._items if self.kind == CHOICES else self.schema
        return list(source.get("enum", []))

    @property
    def blank_label(self) -> str:
        if self.has_default:
            return f"Default ({_one_line(self.default)})"
        return "Choose…" if self.required else "Not set"

    @property
    def options(self) -> list[tuple[str, bool]]:
        """(value, selected) for each enum value of a select or a group of checkboxes."""
        chosen = self.value if isinstance(self.value, list) else [self.value]
        return [(_option(v), _option(v) in chosen) for v in self.enum_values]

    @property
    def labelled_options(self) -> list[tuple[str, bool, str]]:
        """(value, selected, label) for each option: `labels`, else the value itself."""
        return [(value, chosen, self.labels.get(value, value)) for value, chosen in self.options]

    @property
    def step(self) -> str:
        return "1" if _type(self.schema) == "integer" else "any"

    @property
    def minimum(self) -> Any:
        return self.schema.get("minimum", self.schema.get("exclusiveMinimum"))

    @property
    def maximum(self) -> Any:
        return self.schema.get("maximum", self.schema.get("exclusiveMaximum"))

    @property
    def max_length(self) -> Any:
        return self.schema.get("maxLength") if self.kind in (TEXT, TEXTAREA) else None

    @property
    def rows(self) -> int:
        if self.kind == JSON:
            return min(max(self.value.count("\n") + 2, 4), 16) if isinstance(self.value, str) else 4
        return 8 if self.kind == TEXTAREA and self.path[-1] in ("text", "content") else 4

    def walk(self) -> Iterator[SchemaField]:
        yield self
        for child in [*self.children, *(f for row in self.entries for f in row)]:
            yield from child.walk()

    # --- repeatable items (ROWS) ------------------------------------------------------------

    def _row(self, index: int | str) -> list[SchemaField]:
        return _build(self._items, (*self.path, str(index)))

    @property
    def blank_row(self) -> list[SchemaField]:
        """The fields of an empty item, numbered ROW_INDEX: the page's "Add an item" copies it."""
        return self._empty_row(ROW_INDEX)

    @property
    def spare_row(self) -> list[SchemaField]:
        """An empty item numbered next_index, for pages read without scripts."""
        return self._empty_row(self.next_index)

    def _empty_row(self, index: int | str) -> list[SchemaField]:
        row = self._row(index)
        for item in row:
            item.prefill({})
        return row

    @property
    def next_index(self) -> int:
        """One more than the largest item index shown (indexes may have gaps after removals)."""
        return (
            max((int(row[0].path[len(self.path)]) for row in self.entries if row), default=-1) + 1
        )

    def _submitted_indexes(self, data: FormData) -> list[int]:
        start = self.html_name + "."
        found = set()
        for key in data:
            index = str(key)[len(start) :].split(".", 1)[0] if str(key).startswith(start) else ""
            if index.isdigit() and len(index) <= 4:
                found.add(int(index))
        return sorted(found)

    # --- prefilling --------------------------------------------------------------------------

    def prefill(self, initial: Any) -> None:
        """Show the value `initial` (params-shaped) holds for this field, else its default.
        Free text shows its default as a placeholder only: left empty, the service applies it."""
        found, value = _lookup(initial, self.path)
        if self.kind == GROUP:
            for child in self.children:
                child.prefill(initial)
            return
        if self.kind == ROWS:
            items = value if found and isinstance(value, list) and value else [{}]
            self.entries = []
            for index, item in enumerate(items):
                row = self._row(index)
                for child in row:
                    child.prefill(_nest((*self.path, str(index)), item))
                self.entries.append(row)
            return
        if (
            not found
            and self.has_default
            # A checkbox has no "not set": it always starts at the default.
            and (self.prefill_default or self.kind == CHECKBOX)
            and self.kind in (SELECT, NUMBER, CHECKBOX, CHOICES)
        ):
            found, value = True, self.default
        if not found:
            self.value = [] if self.kind == CHOICES else (False if self.kind == CHECKBOX else "")
            return
        if self.kind == CHECKBOX:
            self.value = bool(value)
        elif self.kind == CHOICES:
            self.value = [_option(v) for v in value] if isinstance(value, list) else []
        elif self.kind == SELECT:
            self.value = _option(value)
        elif self.kind == LINES:
            items = value if isinstance(value, list) else [value]
            self.value = "\n".join(_one_line(v) for v in items)
        elif self.kind == JSON:
            self.value = json.dumps(value, indent=2, ensure_ascii=False)
        elif self.kind in (TEXT, TEXTAREA) and isinstance(value, str):
            self.value = value
        else:
            self.value = _one_line(value)

    # --- reading submitted data --------------------------------------------------------------

    def show(self, data: FormData) -> None:
        """Show what was submitted, as typed."""
        if self.kind == GROUP:
            for child in self.children:
                child.show(data)
        elif self.kind == ROWS:
            self.entries = [self._row(i) for i in self._submitted_indexes(data)] or [self._row(0)]
            for child in (f for row in self.entries for f in row):
                child.show(data)
        elif self.kind == CHECKBOX:
            self.value = self.html_name in data
        elif self.kind == CHOICES:
            self.value = [str(v) for v in data.getlist(self.html_name)]
        else:
            self.value = _text(data.get(self.html_name, ""))

    def parse(self) -> tuple[bool, Any]:
        """(present, value) of the shown value; conversion problems go to `errors`. Empty
        optional controls are left out of the parameters, so the service's defaults apply."""
        if self.kind == GROUP:
            out: dict[str, Any] = {}
            for child in self.children:
                present, value = child.parse()
                if present:
                    out[child.label] = value
            return (bool(out) or self.required), out
        if self.kind == ROWS:
            # Items whose fields are all empty are left out; the API's error paths number the
            # items that were sent (email_thread[1] is the second non-empty one).
            items, self.sent_entries = [], []
            for row in self.entries:
                item = {}
                for child in row:
                    present, value = child.parse()
                    if present:
                        item[child.label] = value
                if item:
                    items.append(item)
                    self.sent_entries.append(row)
            return (bool(items) or self.required), items
        if self.kind == CHECKBOX:
            checked = bool(self.value)
            differs = checked != bool(self.schema.get("default", False))
            return (differs or self.required or checked), checked
        if self.kind == CHOICES:
            chosen = [self._enum_value(v) for v in self.value]
            return bool(chosen), chosen
        text = self.value if isinstance(self.value, str) else ""
        if self.kind in (TEXT, TEXTAREA):
            return text != "", text
        if not text.strip():
            return False, None
        if self.kind == SELECT:
            return True, self._enum_value(text)
        if self.kind == NUMBER:
            return True, self._number(text.strip(), _type(self.schema) == "integer")
        if self.kind == LINES:
            return True, self._lines(text)
        try:
            return True, json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            self.errors.append(f"Not valid JSON: {exc}.")
            return False, None

    def _enum_value(self, option: str) -> Any:
        for value in self.enum_values:
            if _option(value) == option:
                return value
        self.errors.append("Select one of the listed values.")
        return option

    def _number(self, text: str, integer: bool, *, item: str = "") -> Any:
        if _INTEGER.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            self.errors.append(f"{item}Enter a {'whole ' if integer else ''}number.")
            return text
        if integer and not number.is_integer():
            self.errors.append(f"{item}Enter a whole number.")
            return number
        return int(number) if integer else number

    def _lines(self, text: str) -> list[Any]:
        items = [line.strip() for line in text.split("\n") if line.strip()]
        if len(items) == 1 and self._short_items and "," in items[0]:
            items = [part.strip() for part in items[0].split(",") if part.strip()]
        kind = _type(self._items)
        if kind in ("integer", "number"):
            return [
                self._number(item, kind == "integer", item=f"Item {n}: ")
                for n, item in enumerate(items, 1)
            ]
        return items


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`value` placed at `path` in nested objects, the shape prefill() looks values up in."""
    for key in reversed(path):
        value = {key: value}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    # Browsers send a textarea's line breaks as CRLF.
    return str(value).replace("\r\n", "\n")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _build(
    schema: Mapping[str, Any], path: tuple[str, ...], prefill_defaults: bool = True
) -> list[SchemaField]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required", []))
    fields = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        here = (*path, name)
        kind = field_kind(name, prop)
        fields.append(
            SchemaField(
                path=here,
                schema=prop,
                required=name in required,
                kind=kind,
                children=(
                    _build(prop, here, prefill_defaults and name in required)
                    if kind == GROUP
                    else []
                ),
                prefill_default=prefill_defaults,
            )
        )
    return fields


_PATH_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def _split_path(path: str) -> list[str | int]:
    """ "context.allowedClasses[0]" → ["context", "allowedClasses", 0]."""
    if path in ("", "$"):
        return []
    return [int(index) if index else name for index, name in _PATH_TOKEN.findall(path)]


def _join(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class ParamsForm:
    """The playground form of one endpoint. Unbound: prefilled from `initial` (the endpoint's
    example or an earlier call) and the schema's defaults. Bound to submitted data: `is_valid()`
    builds `params`; the API's validation errors are put beside their fields by
    `add_api_errors()`."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        data: FormData | None = None,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fields = _build(schema, ())
        self.non_field_errors: list[str] = []
        self.params: dict[str, Any] = {}
        self.data = data
        for item in self.fields:
            if data is not None:
                item.show(data)
            else:
                item.prefill(dict(initial or {}))

    @property
    def is_bound(self) -> bool:
        return self.data is not None

    def all_fields(self) -> Iterator[SchemaField]:
        for item in self.fields:
            yield from item.walk()

    def __getitem__(self, name: str) -> SchemaField:
        for item in self.all_fields():
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def has_errors(self) -> bool:
        return bool(self.non_field_errors) or any(f.errors for f in self.all_fields())

    def is_valid(self) -> bool:
        """Build `params` from the submitted data; False when a control could not be read
        (a number that is not one, invalid JSON). The schema itself is checked by the API path."""
        if self.data is None:
            return False
        params: dict[str, Any] = {}
        for item in self.fields:
            present, value = item.parse()
            if present:
                params[item.label] = value
        self.params = params
        return not self.has_errors

    def add_error(self, path: str, message: str) -> None:
        """Put `message` beside the field `path` names ("context.allowedClasses[1]"), or the
        nearest enclosing field; on the whole form when no field matches."""
        parts = _split_path(path)
        target: SchemaField | None = None
        fields = self.fields
        rest_from = 0
        for index, part in enumerate(parts):
            if isinstance(part, int) and target is not None and target.kind == ROWS:
                # An item of a repeatable list: look for the rest among that item's fields.
                if part >= len(target.sent_entries):
                    break
                fields = target.sent_entries[part]
                continue
            # Fields go no deeper than a list: an index is inside the field found so far.
            match = (
                None
                if isinstance(part, int)
                else next((f for f in fields if f.label == part), None)
            )
            if match is None:
                break
            target, fields, rest_from = match, match.children, index + 1
        if target is None:
            self.non_field_errors.append(f"{path}: {message}" if parts else message)
            return
        # The part of the path inside the field (an item of a list, a key of a JSON value).
        rest = parts[rest_from:]
        if (
            rest
            and isinstance(rest[0], int)
            and target.kind in (LINES, CHOICES, ROWS)
            and len(rest) == 1
        ):
            target.errors.append(f"Item {rest[0] + 1}: {message}")
        elif rest:
            target.errors.append(f"{_join(rest)}: {message}")
        else:
            target.errors.append(message)

    def add_api_errors(self, errors: list[dict[str, Any]]) -> None:
        """The `details.errors` of a BAD_REQUEST: [{path, message}, ...]."""
        for error in errors:
            self.add_error(str(error.get("path", "$")), str(error.get("message", "Invalid.")))


def params_from_json(text: str) -> dict[str, Any]:
    """The raw-JSON editor's parameters; ValueError with a reason a person can act on."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None
    except ValueError as exc:
        raise ValueError(f"Not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"The parameters must be a JSON object ({{...}}), not {type(data).__name__}."
        )
    return data


# --- the parameter table of the service pages ---------------------------------------------------


def type_label(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"array of {type_label(items)}" if isinstance(items, dict) and items else "array"
    if kind is None:
        return "enum" if "enum" in schema else "any"
    return str(kind)


_LIMITS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} character{}"),
    ("maxLength", "at most {} character{}"),
    ("minItems", "at least {} item{}"),
    ("maxItems", "at most {} item{}"),
    ("maxProperties", "at most {} key{}"),
    ("format", "format {}"),
)


def limits(schema: Mapping[str, Any]) -> list[str]:
    """The schema's constraints, in words: "≤ 100", "at most 200 characters"…"""
    out = [
        template.format(schema[key], "" if schema[key] == 1 else "s")
        for key, template in _LIMITS
        if key in schema
    ]
    if schema.get("uniqueItems"):
        out.append("unique items")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        out.append(pattern_words(pattern).words)
    items = schema.get("items")
    if isinstance(items, dict) and _type(items) in SCALAR_TYPES:
        out.extend(f"each item {limit}" for limit in limits(items))
    return out


def _default_text(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema["default"], ensure_ascii=False) if "default" in schema else ""


@dataclass(frozen=True)
class ParameterRow:
    name: str  # dotted, with [] for the items of a list of objects: email_thread[].sender
    type: str
    required: bool
    default: str  # JSON, or "" when there is none
    enum: list[str]
    limits: list[str]
    description: str
    depth: int


def parameter_rows(
    schema: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> list[ParameterRow]:
    """Every parameter of `schema`, nested ones after their parent, for the docs table."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required", []))
    rows: list[ParameterRow] = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        full = f"{prefix}{name}"
        enum_source = prop
        items = prop.get("items")
        if _type(prop) == "array" and isinstance(items, dict) and "enum" in items:
            enum_source = items
        rows.append(
            ParameterRow(
                name=full,
                type=type_label(prop),
                required=name in required,
                default=json.dumps(prop["default"], ensure_ascii=False)
                if "default" in prop
                else "",
                enum=[_one_line(v) for v in enum_source.get("enum", [])],
                limits=limits(prop),
                description=str(prop.get("description", "")),
                depth=depth,
            )
        )
        if _type(prop) == "object":
            rows.extend(parameter_rows(prop, f"{full}.", depth + 1))
        elif _type(prop) == "array" and isinstance(items, dict) and _type(items) == "object":
            rows.extend(parameter_rows(items, f"{full}[].", depth + 1))
    return rows


def shape_of(schema: Mapping[str, Any]) -> Any:
    """A representative value of `schema`: its example or default, else a placeholder by type."""
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = _type(schema)
    if kind == "object":
        properties = schema.get("properties")
        if isinstance(properties, dict):
            return {name: shape_of(prop) for name, prop in properties.items()}
        return {}
    if kind == "array":
        items = schema.get("items")
        return [shape_of(items)] if isinstance(items, dict) and items else []
    return {"string": "…", "integer": 0, "number": 0.0, "boolean": False}.get(kind or "")
