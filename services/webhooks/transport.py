"""POSTing a delivery through the webscraper's SSRF-safe pieces: the URL and every address its
host resolves to are checked (no private, loopback unless allowed, link-local...), and the
connection is pinned to the checked address. Redirects are not followed (a 3xx is a failure)."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import httpx

from services.catalogue.registry import ServiceFailure
from services.engines.local_fetch import PinnedTransport, check_url, refusal_reason, resolve_checked

SNIPPET_BYTES = 500
USER_AGENT = "BReactConsole-webhooks/1.0"


class Refused(Exception):
    """The target is not allowed (scheme, credentials in the URL, a refused address)."""


@dataclass
class Answer:
    status_code: int | None
    snippet: str
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def url_refusal(url: str, *, allow_loopback: bool) -> str | None:
    """Why `url` may not receive webhooks, or None, judged without DNS (at registration): the
    scheme, credentials, and an address or "localhost" written in it. Every delivery checks
    again after resolving the host."""
    try:
        parsed = httpx.URL(url)
        check_url(parsed)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"Refused the URL: {exc}."
    except ServiceFailure as exc:
        return str(exc)
    host = parsed.host.lower()
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if host in {"localhost", "localhost.localdomain"} and not allow_loopback:
            return f"Refused to deliver to {host}: it is a loopback address."
        return None
    reason = refusal_reason(literal, allow_loopback=allow_loopback)
    return f"Refused to deliver to {host}: it is {reason}." if reason else None


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float, allow_loopback: bool
) -> Answer:
    """POST `body` to `url`; raises Refused before any connection to a refused target. Network
    failures and timeouts come back as an Answer with `error` and no status."""
    started = time.monotonic()
    try:
        parsed = httpx.URL(url)
        check_url(parsed)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = resolve_checked(parsed.host, port, allow_loopback=allow_loopback)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refused(f"Refused the URL: {exc}.") from None
    except ServiceFailure as exc:
        raise Refused(str(exc).replace("fetch from", "deliver to")) from None
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        with (
            httpx.Client(
                transport=PinnedTransport(addresses[0]),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
            ) as client,
            client.stream("POST", parsed, content=body, headers=sent) as response,
        ):
            snippet = b""
            for chunk in response.iter_bytes():
                snippet += chunk
                if len(snippet) >= SNIPPET_BYTES or time.monotonic() - started > timeout:
                    break
            return Answer(
                status_code=response.status_code,
                snippet=snippet[:SNIPPET_BYTES].decode("utf-8", "replace"),
                duration_ms=_ms(started),
            )
    except httpx.TimeoutException:
        return Answer(None, "", _ms(started), error=f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return Answer(None, "", _ms(started), error=f"{type(exc).__name__}: {exc}"[:300])


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
