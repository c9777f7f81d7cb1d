"""gunicorn's access log with secrets taken out of request lines: API keys and access tokens
sent in the query string (the poll URL carries its access token) are written as [REDACTED].

Use it with `gunicorn --logger-class breact.access_log.RedactingLogger` (gunicorn.conf.py
beside manage.py sets it for servers started from there, `manage.py serve` included). It imports
nothing from Django: gunicorn loads it before the application.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

# Query parameters a client may put an API key in; the API refuses them (accounts.auth).
API_KEY_QUERY_NAMES = ("api_key", "apikey", "key", "x-api-key")
# Every query parameter whose value is kept out of the log (compared in lower case).
SECRET_QUERY_NAMES = frozenset(
    {*API_KEY_QUERY_NAMES, "x_api_key", "access_token", "token", "password", "secret"}
)
# Request headers whose values are kept out of the log when a format names them.
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "cookie", "proxy-authorization"})
REDACTED = "[REDACTED]"


def redact_query(query: str) -> str:
    """`query` with the value of every secret parameter replaced; the rest is kept as sent."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        raw_name = part.partition("=")[0]
        if unquote_plus(raw_name).strip().lower() in SECRET_QUERY_NAMES:
            part = f"{raw_name}={REDACTED}"
        parts.append(part)
    return "&".join(parts)


def redact_uri(uri: str) -> str:
    """A request URI (path?query#fragment, or an absolute URL) with its secrets redacted."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    query, hash_sep, fragment = query.partition("#")
    return f"{path}?{redact_query(query)}{hash_sep}{fragment}"


class RedactingLogger(Logger):
    """gunicorn's Logger whose access-log atoms carry no secrets: the request line (%(r)s), the
    query (%(q)s), the referrer (%(f)s) and every header or environ atom derived from them."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        if isinstance(atoms.get("r"), str):
            method, _, rest = atoms["r"].partition(" ")
            uri, _, protocol = rest.rpartition(" ")
            atoms["r"] = f"{method} {redact_uri(uri)} {protocol}" if uri else atoms["r"]
        for name in ("q", "{query_string}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_query(atoms[name])
        for name in ("f", "{referer}i", "{raw_uri}e", "{http_referer}e", "{request_uri}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_uri(atoms[name])
        for header in SECRET_HEADERS:
            for name in (f"{{{header}}}i", f"{{http_{header.replace('-', '_')}}}e"):
                if name in atoms:
                    atoms[name] = REDACTED
        return atoms
