"""Copy-ready code for one call: curl with the JSON body, and the Python SDK (breactsdk)."""

from __future__ import annotations

import json
import keyword
import math
import shlex
from typing import Any

# The snippets never hold a key: they read it from the environment, where the user put it.
API_KEY_ENV = "BREACT_API_KEY"
INDENT = "    "
INLINE_WIDTH = 60  # a list of scalars up to this long stays on one line
# Attributes of the SDK's client and service proxy: a service or endpoint named like one of these
# is not reachable as `client.<service>.<endpoint>`, so the snippet calls execute_service instead.
_SDK_RESERVED = frozenset(
    {"client", "config", "services", "list", "execute_service", "poll_result", "close"}
)


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def execute_url(*, base_url: str, service_id: str, endpoint: str) -> str:
    return f"{_base(base_url)}/api/v1/services/{service_id}/{endpoint}"


def json_body(params: dict[str, Any]) -> str:
    """The request body as sent: pretty JSON, non-ASCII kept readable."""
    return json.dumps(params, indent=2, ensure_ascii=False)


def curl_snippet(*, base_url: str, service_id: str, endpoint: str, params: dict[str, Any]) -> str:
    """A POSIX shell command that starts the call, then the one that fetches its result.

    The body is one single-quoted shell word, so `shlex.split` gives back the exact JSON.
    """
    url = execute_url(base_url=base_url, service_id=service_id, endpoint=endpoint)
    result_url = f"{_base(base_url)}/api/v1/services/result/PROCESS_ID?access_token=ACCESS_TOKEN"
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        f'  -H "x-api-key: ${API_KEY_ENV}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(json_body(params))}\n"
        "\n"
        "# The answer (202) holds process_id and access_token; fetch the result with them\n"
        "# (it is kept for a short while after it is ready):\n"
        f'curl -H "x-api-key: ${API_KEY_ENV}" {shlex.quote(result_url)}\n'
    )


def python_literal(value: Any, level: int = 0) -> str:
    """`value` (anything JSON can hold) as Python source: dicts, lists, str, int, float, bool,
    None; nested containers are laid out one item per line."""
    pad = INDENT * (level + 1)
    end = INDENT * level
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        # A JSON string literal is a valid Python string literal with the same value.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{python_literal(str(k))}: {python_literal(v, level + 1)},"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + f"\n{end}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if not any(isinstance(v, dict | list | tuple) for v in value):
            inline = "[" + ", ".join(python_literal(v) for v in value) + "]"
            if len(inline) <= INLINE_WIDTH:
                return inline
        items = [f"{pad}{python_literal(v, level + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{end}]"
    raise TypeError(f"Not a JSON value: {type(value).__name__}")


def _is_keyword_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _sdk_attribute(name: str) -> bool:
    return _is_keyword_name(name) and not name.startswith("_") and name not in _SDK_RESERVED


def sdk_snippet(*, base_url: str, service_id: str, endpoint: str, params: dict[str, Any]) -> str:
    """Python that makes the call with the official SDK and prints the result:
    `client.<service>.<endpoint>(**params)`, each parameter a keyword argument (those whose names
    are not Python identifiers go through `**{...}`)."""
    level = 2  # inside `with` and inside the call's parentheses
    arg_pad = INDENT * level
    if _sdk_attribute(service_id) and _sdk_attribute(endpoint):
        keywords = [
            f"{arg_pad}{name}={python_literal(value, level)},"
            for name, value in params.items()
            if _is_keyword_name(name)
        ]
        others = {name: value for name, value in params.items() if not _is_keyword_name(name)}
        if others:
            keywords.append(f"{arg_pad}**{python_literal(others, level)},")
        call = f"client.{service_id}.{endpoint}("
        call += ("\n" + "\n".join(keywords) + f"\n{INDENT})") if keywords else ")"
    else:
        call = (
            f"client.execute_service(\n{arg_pad}{python_literal(service_id)},\n"
            f"{arg_pad}{python_literal(endpoint)},\n"
            f"{arg_pad}{python_literal(params, level)},\n{INDENT})"
        )
    return (
        "import os\n"
        "\n"
        "from breactsdk import create_client\n"
        "\n"
        "with create_client(\n"
        f'{INDENT}api_key=os.environ["{API_KEY_ENV}"], base_url={python_literal(_base(base_url))}\n'
        ") as client:\n"
        f"{INDENT}result = {call}\n"
        f"{INDENT}print(result)\n"
    )
