"""The playground form generated from a JSON Schema, and the docs' parameter rows."""

from __future__ import annotations

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from services.catalogue.registry import all_services
from services.console.forms import (
    CHECKBOX,
    CHOICES,
    GROUP,
    JSON,
    LINES,
    NUMBER,
    ROWS,
    SELECT,
    TEXT,
    TEXTAREA,
    ParamsForm,
    parameter_rows,
    params_from_json,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "The text.", "maxLength": 5000},
        "title": {"type": "string", "maxLength": 80},
        "tone": {"type": "string", "enum": ["formal", "casual"], "default": "formal"},
        "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "strict": {"type": "boolean", "default": False},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 50}},
        "notes": {"type": "array", "items": {"type": "string", "maxLength": 1000}},
        "kinds": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
        "context": {
            "type": "object",
            "properties": {
                "allowedClasses": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "multiClass": {"type": "boolean", "default": True},
                "limits": {
                    "type": "object",
                    "properties": {"depth": {"type": "integer", "default": 2}},
                },
            },
            "required": ["allowedClasses"],
        },
        "options": {
            "type": "object",
            "properties": {"temperature": {"type": "number", "default": 0.1}},
        },
        "items": {"type": "array", "items": {"type": "object", "properties": {}}},
        "meta": {"type": "object"},
        "id": {"type": ["integer", "string"]},
    },
    "required": ["text", "context"],
}


def _data(**fields: object) -> MultiValueDict:
    data = MultiValueDict()
    for name, value in fields.items():
        key = "p." + name.replace("__", ".")
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


def _without_empty(value: object) -> object:
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    return value


def test_every_json_type_gets_its_control():
    form = ParamsForm(SCHEMA)

    kinds = {f.name: f.kind for f in form.all_fields()}
    assert kinds == {
        "text": TEXTAREA,
        "title": TEXT,
        "tone": SELECT,
        "count": NUMBER,
        "ratio": NUMBER,
        "strict": CHECKBOX,
        "tags": LINES,
        "notes": LINES,
        "kinds": CHOICES,
        "context": GROUP,
        "context.allowedClasses": LINES,
        "context.multiClass": CHECKBOX,
        "context.limits": GROUP,
        "context.limits.depth": NUMBER,
        "options": GROUP,
        "options.temperature": NUMBER,
        "items": JSON,
        "meta": JSON,
        "id": JSON,
    }


def test_fields_carry_names_ids_and_number_limits():
    form = ParamsForm(SCHEMA)

    field = form["context.allowedClasses"]
    assert field.html_name == "p.context.allowedClasses"
    assert field.html_id == "param-context-allowedClasses"
    assert field.required is True
    assert (form["count"].minimum, form["count"].maximum, form["count"].step) == (1, 10, "1")
    assert form["ratio"].step == "any"
    assert [value for value, _ in form["tone"].options] == ["formal", "casual"]


def test_defaults_are_prefilled_and_free_text_defaults_are_placeholders():
    schema = {
        "type": "object",
        "properties": {
            **SCHEMA["properties"],
            "model": {"type": "string", "default": "mistral-small"},
        },
    }
    form = ParamsForm(schema)

    assert form["tone"].value == "formal"
    assert form["count"].value == "3"
    assert form["kinds"].value == []
    assert form["context.multiClass"].value is True
    assert form["model"].value == ""
    assert form["model"].placeholder == "Default: mistral-small"
    # Inside an optional object a default is only shown, so the object stays out of the call.
    assert form["options.temperature"].value == ""
    assert form["options.temperature"].placeholder == "Default: 0.1"


def test_initial_values_come_from_the_example():
    form = ParamsForm(
        SCHEMA,
        initial={
            "text": "Hello",
            "count": 7,
            "context": {"allowedClasses": ["billing", "shipping"], "multiClass": False},
            "meta": {"a": 1},
            "kinds": ["b"],
        },
    )

    assert form["text"].value == "Hello"
    assert form["count"].value == "7"
    assert form["context.allowedClasses"].value == "billing\nshipping"
    assert form["context.multiClass"].value is False
    assert form["meta"].value == '{\n  "a": 1\n}'
    assert form["kinds"].options == [("a", False), ("b", True), ("c", False)]


def test_form_data_becomes_params():
    data = _data(
        text="Line one\r\nLine two",
        title="",
        tone="casual",
        count="4",
        ratio="0.25",
        strict="true",
        tags="red, green ,blue",
        notes="First, with a comma\nSecond",
        kinds=["a", "c"],
        context__allowedClasses="billing\n\nshipping\n",
        context__multiClass="true",
        items='[{"x": 1}]',
        meta="",
        id="42",
    )
    form = ParamsForm(SCHEMA, data=data)

    assert form.is_valid(), [f.errors for f in form.all_fields()]
    assert form.params == {
        "text": "Line one\nLine two",
        "tone": "casual",
        "count": 4,
        "ratio": 0.25,
        "strict": True,
        "tags": ["red", "green", "blue"],
        "notes": ["First, with a comma", "Second"],
        "kinds": ["a", "c"],
        "context": {"allowedClasses": ["billing", "shipping"], "multiClass": True},
        "items": [{"x": 1}],
        "id": 42,
    }


def test_prefilled_example_round_trips_through_the_form():
    for definition in all_services().values():
        for endpoint in definition.endpoints.values():
            form = ParamsForm(endpoint.input_schema, initial=endpoint.example)
            data = MultiValueDict()
            for field in form.all_fields():
                if field.kind == CHECKBOX and field.value:
                    data.setlist(field.html_name, ["true"])
                elif field.kind == CHOICES:
                    data.setlist(field.html_name, field.value)
                elif field.kind not in (GROUP, CHECKBOX):
                    data.setlist(field.html_name, [field.value])

            bound = ParamsForm(endpoint.input_schema, data=data)

            assert bound.is_valid(), (definition.id, endpoint.name)
            assert endpoint.validation_errors(bound.params) == [], (definition.id, endpoint.name)
            # Empty lists and objects are left out (the service's defaults are the same); a
            # top-level default is prefilled, so it is sent.
            params = _without_empty(bound.params)
            example = _without_empty(endpoint.example)
            assert isinstance(params, dict) and isinstance(example, dict)
            properties = endpoint.input_schema["properties"]
            for key, value in params.items():
                expected = example[key] if key in example else properties[key].get("default")
                assert value == expected, (definition.id, endpoint.name, key)
            assert example.keys() <= params.keys(), (definition.id, endpoint.name)


def test_unchecked_checkbox_is_sent_only_when_its_default_is_true():
    form = ParamsForm(SCHEMA, data=_data(text="x", context__allowedClasses="a"))

    assert form.is_valid()
    assert form.params["context"] == {"allowedClasses": ["a"], "multiClass": False}
    assert "strict" not in form.params


def test_empty_optional_object_is_left_out_and_a_required_one_is_kept():
    form = ParamsForm(SCHEMA, data=_data(text="x"))

    assert form.is_valid()
    assert form.params == {"text": "x", "context": {"multiClass": False}}
    assert "options" not in form.params


def test_bad_numbers_and_json_are_errors_beside_their_fields():
    form = ParamsForm(
        SCHEMA,
        data=_data(text="x", count="2.5", ratio="lots", meta="{nope", id="NaN"),
    )

    assert not form.is_valid()
    assert form["count"].errors == ["Enter a whole number."]
    assert form["ratio"].errors == ["Enter a number."]
    assert form["meta"].errors[0].startswith("Not valid JSON")
    assert form["id"].errors[0].startswith("Not valid JSON")
    assert form["text"].errors == []


def test_unknown_enum_choice_is_an_error():
    form = ParamsForm(SCHEMA, data=_data(text="x", tone="shouty"))

    assert not form.is_valid()
    assert form["tone"].errors == ["Select one of the listed values."]


def test_required_missing_reported_by_the_schema_lands_beside_the_field():
    schema = all_services()["classifier"].endpoints["process"]
    form = ParamsForm(schema.input_schema, data=_data(content=""))
    assert form.is_valid()

    form.add_api_errors(schema.validation_errors(form.params))

    assert form["content"].errors == ["This field is required."]
    assert form["context.allowedClasses"].errors == ["This field is required."]
    assert form.non_field_errors == []


def test_api_error_paths_map_to_the_nearest_field():
    form = ParamsForm(SCHEMA)

    form.add_error("context.allowedClasses[1]", "'' is too short")
    form.add_error("items[0].x", "must be a string")
    form.add_error("context.limits.depth", "too deep")
    form.add_error("unknown", "Unknown parameter.")
    form.add_error("$", "Not an object.")

    assert form["context.allowedClasses"].errors == ["Item 2: '' is too short"]
    assert form["items"].errors == ["[0].x: must be a string"]
    assert form["context.limits.depth"].errors == ["too deep"]
    assert form.non_field_errors == ["unknown: Unknown parameter.", "Not an object."]
    assert form.has_errors


def test_query_dict_from_a_post_binds_too():
    data = QueryDict("p.text=hi&p.kinds=a&p.kinds=b&p.context.allowedClasses=x")

    form = ParamsForm(SCHEMA, data=data)

    assert form.is_valid()
    assert form.params["kinds"] == ["a", "b"]


def test_raw_json_must_be_an_object():
    assert params_from_json('{"text": "hi"}') == {"text": "hi"}
    assert params_from_json("  ") == {}
    for bad, reason in (("[1]", "JSON object"), ("{", "Not valid JSON"), ("NaN", "Not valid")):
        try:
            params_from_json(bad)
        except ValueError as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_parameter_rows_include_nested_fields_enums_and_limits():
    rows = {row.name: row for row in parameter_rows(SCHEMA)}

    assert rows["context.allowedClasses"].required is True
    assert rows["context.allowedClasses"].type == "array of string"
    assert rows["context.allowedClasses"].depth == 1
    assert rows["context.limits.depth"].default == "2"
    assert rows["tone"].enum == ["formal", "casual"]
    assert rows["kinds"].enum == ["a", "b", "c"]
    assert rows["count"].limits == ["≥ 1", "≤ 10"]
    assert rows["text"].limits == ["at most 5000 characters"]
    assert rows["tags"].limits == ["each item at most 50 characters"]
    assert rows["id"].type == "integer | string"
    assert rows["text"].description == "The text."


def test_parameter_rows_descend_into_lists_of_objects():
    schema = all_services()["email_response"].endpoints["analyze_thread"].input_schema

    names = [row.name for row in parameter_rows(schema)]

    assert "email_thread[].sender" in names
    assert names.index("email_thread") < names.index("email_thread[].sender")


# --- repeatable items (arrays of objects) ---------------------------------------------------------

THREAD = {
    "type": "object",
    "properties": {
        "thread": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sender": {"type": "string"},
                    "content": {"type": "string"},
                    "urgent": {"type": "boolean"},
                },
                "required": ["sender"],
            },
        }
    },
    "required": ["thread"],
}


def test_an_array_of_objects_gets_one_fieldset_per_item_prefilled():
    form = ParamsForm(THREAD, initial={"thread": [{"sender": "a@x.io"}, {"sender": "b@x.io"}]})

    field = form["thread"]
    assert field.kind == ROWS
    assert [[f.name for f in row] for row in field.entries] == [
        ["thread.0.sender", "thread.0.content", "thread.0.urgent"],
        ["thread.1.sender", "thread.1.content", "thread.1.urgent"],
    ]
    assert form["thread.1.sender"].value == "b@x.io"
    assert form["thread.0.content"].kind == TEXTAREA
    assert form["thread.1.sender"].html_name == "p.thread.1.sender"
    assert field.next_index == 2
    assert field.blank_row[0].html_name == "p.thread.__INDEX__.sender"


def test_without_items_one_empty_item_is_shown():
    field = ParamsForm(THREAD)["thread"]

    assert len(field.entries) == 1 and field.entries[0][0].value == ""


def test_submitted_items_keep_their_order_and_empty_ones_are_left_out():
    data = _data(
        **{
            "thread__0__sender": "a@x.io",
            "thread__0__content": "Hi",
            "thread__3__sender": "",
            "thread__3__content": "",
            "thread__7__sender": "c@x.io",
            "thread__7__urgent": "true",
        }
    )
    form = ParamsForm(THREAD, data=data)

    assert form.is_valid()
    assert form.params == {
        "thread": [
            {"sender": "a@x.io", "content": "Hi"},
            {"sender": "c@x.io", "urgent": True},
        ]
    }
    assert form["thread"].next_index == 8


def test_api_errors_on_an_item_land_beside_its_field():
    data = _data(thread__0__sender="", thread__0__content="x", thread__2__sender="b@x.io")
    form = ParamsForm(THREAD, data=data)
    form.is_valid()

    form.add_api_errors(
        [
            {"path": "thread[0].sender", "message": "This field is required."},
            {"path": "thread[1].content", "message": "Too long."},
            {"path": "thread[1]", "message": "Bad item."},
            {"path": "thread[9].sender", "message": "Gone."},
        ]
    )

    assert form["thread.0.sender"].errors == ["This field is required."]
    # The second item sent is the one numbered 2 on the page.
    assert form["thread.2.content"].errors == ["Too long."]
    assert form["thread"].errors == ["Item 2: Bad item.", "[9].sender: Gone."]
