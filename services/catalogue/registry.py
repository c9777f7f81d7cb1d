"""The service registry: every service is defined once, in code, in services/catalog/<id>.py."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from breact.validation_messages import human_message

CATALOG_PACKAGE = "services.catalog"


def builtin_service_modules() -> list[str]:
    """Every module of services/catalog/ (each defines one service as SERVICE)."""
    import services.catalog as catalog

    return sorted(
        f"{CATALOG_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules(catalog.__path__)
        if not info.name.startswith("_")
    )


class ServiceFailure(Exception):
    """Raised by a handler for a failure of the service itself (inner status "error", refunded)."""


@dataclass(frozen=True)
class HandlerOutput:
    """What a handler returns: the service output, metadata, and optional extra top-level keys."""

    result: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[dict[str, Any]], HandlerOutput]


@dataclass(frozen=True, eq=False)
class EndpointDefinition:
    name: str
    description: str
    input_schema: dict[str, Any]
    returns: dict[str, Any]
    price: int
    handler: Handler
    example: dict[str, Any] = field(default_factory=dict)
    # The `result` of `example`, for the docs, when running the handler on it is not possible
    # offline (e.g. it fetches a page); otherwise the docs run it once on the local engine.
    example_result: Any = None
    # Where the parameters name the model to run, e.g. ("model_id",) or ("config", "modelId").
    model_path: tuple[str, ...] = ()
    # Checks that need the caller's account (e.g. ownership of referenced objects): runs after
    # schema validation and before charging, may raise a BReactError, returns the params to store.
    prepare: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def requested_model(self, params: dict[str, Any]) -> str | None:
        """The model id the parameters ask for, if any."""
        value: Any = params
        for key in self.model_path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value if self.model_path and isinstance(value, str) and value else None

    @property
    def validator(self) -> Draft202012Validator:
        return _validator_for(self)

    def parameters(self) -> dict[str, dict[str, Any]]:
        """The contract's `parameters` map, derived from the JSON Schema."""
        required = set(self.input_schema.get("required", []))
        params: dict[str, dict[str, Any]] = {}
        for name, prop in self.input_schema.get("properties", {}).items():
            entry: dict[str, Any] = {
                "type": prop.get("type", "any"),
                "description": prop.get("description", ""),
                "required": name in required,
            }
            for key in ("default", "enum", "items", "properties", "minimum", "maximum"):
                if key in prop:
                    entry[key] = prop[key]
            params[name] = entry
        return params

    def validation_errors(self, params: Any) -> list[dict[str, str]]:
        """Every schema violation as {path, message}; an empty list means valid."""
        errors: list[dict[str, str]] = []
        for error in sorted(self.validator.iter_errors(params), key=lambda e: list(e.path)):
            errors.extend(_describe(error))
        return errors


@cache
def _validator_for(endpoint: EndpointDefinition) -> Draft202012Validator:
    Draft202012Validator.check_schema(endpoint.input_schema)
    # "format": "date" is checked as the OpenAPI document promises (0000-00-00 is no date).
    return Draft202012Validator(
        endpoint.input_schema, format_checker=FormatChecker(formats=["date"])
    )


def _join(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def _describe(error: SchemaError) -> list[dict[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [
            {"path": _join([*path, name]), "message": "This field is required."} for name in missing
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        return [
            {"path": _join([*path, name]), "message": "Unknown parameter."}
            for name in error.instance
            if name not in allowed
        ]
    return [{"path": _join(path), "message": human_message(error)}]


@dataclass(frozen=True, eq=False)
class ServiceDefinition:
    id: str
    name: str
    description: str
    endpoints: Mapping[str, EndpointDefinition]
    version: str = "1.0.0"
    author: str = "BReact"
    aliases: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


@cache
def _load() -> dict[str, ServiceDefinition]:
    services: dict[str, ServiceDefinition] = {}
    for module_path in [*builtin_service_modules(), *settings.BREACT_EXTRA_SERVICE_MODULES]:
        module = importlib.import_module(module_path)
        definition: ServiceDefinition = module.SERVICE
        services[definition.id] = definition
    return services


def all_services() -> dict[str, ServiceDefinition]:
    """Every defined service by id (aliases not included)."""
    return _load()


def find_service(service_id: str) -> ServiceDefinition | None:
    """The service with this id or alias, or None."""
    services = _load()
    if service_id in services:
        return services[service_id]
    for definition in services.values():
        if service_id in definition.aliases:
            return definition
    return None
