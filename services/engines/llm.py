"""OpenAI-compatible model providers: which endpoint answers a model id, and JSON chat calls
with validation and one repair retry."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from services.catalogue.registry import ServiceFailure

logger = logging.getLogger(__name__)

LOCAL_MODEL = "local"
WILDCARD = "*"


@dataclass(frozen=True)
class ProviderRoute:
    """Where a requested model id is answered."""

    model_id: str
    base_url: str
    api_key: str
    upstream_model: str
    timeout: float


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Any) -> None:
        if other is None:
            return
        self.prompt_tokens += int(getattr(other, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(other, "completion_tokens", 0) or 0)
        self.total_tokens += int(getattr(other, "total_tokens", 0) or 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def _configured_routes() -> dict[str, ProviderRoute]:
    """Routes from the BREACT_MODEL_PROVIDERS setting, then the staff-edited rows on top."""
    from services.models import ModelProvider

    routes: dict[str, ProviderRoute] = {}
    raw = settings.BREACT_MODEL_PROVIDERS.strip()
    if raw:
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            raise ImproperlyConfigured(f"BREACT_MODEL_PROVIDERS is not JSON: {exc}") from exc
        for model_id, entry in entries.items():
            routes[model_id] = ProviderRoute(
                model_id=model_id,
                base_url=entry["base_url"],
                api_key=entry.get("api_key", ""),
                upstream_model=entry.get("model") or model_id,
                timeout=float(entry.get("timeout", settings.BREACT_LLM_TIMEOUT)),
            )
    for row in ModelProvider.objects.filter(enabled=True):
        routes[row.model_id] = ProviderRoute(
            model_id=row.model_id,
            base_url=row.base_url,
            api_key=row.api_key,
            upstream_model=row.upstream_model or row.model_id,
            timeout=float(row.timeout_seconds),
        )
    return routes


def available_models() -> list[str]:
    """Model ids a caller may request: the configured ones and "local"."""
    return sorted({LOCAL_MODEL, *(m for m in _configured_routes() if m != WILDCARD)})


def route_for(model_id: str | None) -> ProviderRoute | None:
    """The provider for `model_id`, or None when the local engine answers (no model asked for,
    "local", or no provider configured for it)."""
    if not model_id or model_id == LOCAL_MODEL or model_id.startswith("local/"):
        return None
    routes = _configured_routes()
    route = routes.get(model_id) or routes.get(WILDCARD)
    if route is not None and route.model_id == WILDCARD:
        upstream = route.upstream_model if route.upstream_model != WILDCARD else model_id
        return ProviderRoute(model_id, route.base_url, route.api_key, upstream, route.timeout)
    return route


def model_is_unavailable(model_id: str | None) -> bool:
    """True when `model_id` must be refused: it has no provider and the platform is set to
    reject unmapped models rather than run them on the local engine."""
    if settings.BREACT_UNMAPPED_MODELS != "reject" or not model_id:
        return False
    return model_id != LOCAL_MODEL and not model_id.startswith("local/") and not route_for(model_id)


_JSON_BLOCK = re.compile(r"\{.*\}|\[.*\]", re.DOTALL)


def _parse_json(text: str) -> Any:
    """JSON from a model's reply: the whole text, else the outermost {...} or [...] in it
    (models often wrap JSON in prose or code fences)."""
    try:
        return json.loads(text)
    except ValueError:
        match = _JSON_BLOCK.search(text)
        if match is None:
            raise
        return json.loads(match.group(0))


@dataclass
class ChatResult:
    data: Any
    usage: Usage = field(default_factory=Usage)
    model: str = ""


def chat_json(
    route: ProviderRoute,
    *,
    system: str,
    user: str,
    check: Callable[[Any], list[str]] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatResult:
    """Ask the provider for a JSON answer. `check` lists what is wrong with a parsed answer;
    an unparsable or wrong answer gets one repair request. Upstream errors, timeouts and a
    second bad answer raise ServiceFailure (the caller's process is then refunded)."""
    client = openai.OpenAI(
        base_url=route.base_url,
        api_key=route.api_key or "not-needed",
        timeout=route.timeout,
        max_retries=0,
    )
    messages: list[dict[str, str]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    usage = Usage()
    problems: list[str] = []
    for attempt in range(2):
        reply = _complete(client, route, messages, temperature, max_tokens)
        usage.add(reply.usage)
        content = (reply.choices[0].message.content or "") if reply.choices else ""
        try:
            data = _parse_json(content)
        except ValueError as exc:
            problems = [f"the reply is not valid JSON ({exc})"]
        else:
            problems = check(data) if check else []
            if not problems:
                return ChatResult(data=data, usage=usage, model=route.model_id)
        logger.info("Model %s answer rejected (attempt %d): %s", route.model_id, attempt, problems)
        messages += [
            {"role": "assistant", "content": content},
            {
                "role": "user",
                "content": "That answer cannot be used: "
                + "; ".join(problems)
                + ". Reply again with only the corrected JSON.",
            },
        ]
    raise ServiceFailure(
        f"The model {route.model_id} did not return a usable answer: {'; '.join(problems)}."
    )


def chat_text(
    route: ProviderRoute,
    *,
    system: str,
    user: str,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatResult:
    """Ask the provider for plain text. Upstream errors and timeouts raise ServiceFailure."""
    client = openai.OpenAI(
        base_url=route.base_url,
        api_key=route.api_key or "not-needed",
        timeout=route.timeout,
        max_retries=0,
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    reply = _complete(client, route, messages, temperature, max_tokens)
    usage = Usage()
    usage.add(reply.usage)
    content = (reply.choices[0].message.content or "") if reply.choices else ""
    if not content.strip():
        raise ServiceFailure(f"The model {route.model_id} returned an empty answer.")
    return ChatResult(data=content.strip(), usage=usage, model=route.model_id)


def _complete(
    client: openai.OpenAI,
    route: ProviderRoute,
    messages: list[dict[str, str]],
    temperature: float | None,
    max_tokens: int | None,
) -> Any:
    options: dict[str, Any] = {}
    if temperature is not None:
        options["temperature"] = temperature
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    try:
        return client.chat.completions.create(
            model=route.upstream_model,
            messages=messages,  # type: ignore[arg-type]
            **options,
        )
    except openai.APITimeoutError:
        raise ServiceFailure(
            f"The model {route.model_id} did not answer within {route.timeout:g} s."
        ) from None
    except openai.APIStatusError as exc:
        raise ServiceFailure(
            f"The model {route.model_id} answered with HTTP {exc.status_code}."
        ) from None
    except openai.APIError as exc:
        raise ServiceFailure(f"The model {route.model_id} could not be reached: {exc}.") from None
