"""Fetching public web pages safely: SSRF checks after DNS resolution (private, loopback,
link-local, multicast and reserved addresses refused, also after redirects), connections
pinned to the checked address, and size, type, redirect and time limits."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field

import httpx

from services.catalogue.registry import ServiceFailure

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
ALLOWED_TYPES = frozenset({"text/html", "text/plain", "application/xhtml+xml", "application/json"})
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "BReactConsole-webscraper/1.0"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- address checks ---------------------------------------------------------------------------


def refusal_reason(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a connection to `ip` is refused, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return refusal_reason(embedded, allow_loopback=allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def resolve_checked(host: str, port: int, *, allow_loopback: bool) -> list[str]:
    """Every address `host` resolves to, all checked; raises ServiceFailure naming the first
    refused one (a name with one private address among public ones is refused whole)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = refusal_reason(literal, allow_loopback=allow_loopback)
        if reason:
            raise ServiceFailure(f"Refused to fetch from {host}: it is {reason}.")
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise ServiceFailure(f"Could not resolve the host {host}: {exc}.") from None
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ServiceFailure(f"Could not resolve the host {host}.")
    for address in addresses:
        reason = refusal_reason(ipaddress.ip_address(address), allow_loopback=allow_loopback)
        if reason:
            raise ServiceFailure(
                f"Refused to fetch from {host}: it resolves to {reason} ({address})."
            )
    return addresses


class PinnedTransport(httpx.BaseTransport):
    """Sends every request to one already-checked IP address, whatever the URL's host
    resolves to now (no second DNS lookup, so no DNS rebinding). The Host header and TLS
    SNI and certificate check still use the URL's host name."""

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self._inner = httpx.HTTPTransport(trust_env=False, retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=self.ip),
            headers=request.headers,  # keeps the Host header of the original URL
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return self._inner.handle_request(pinned)

    def close(self) -> None:
        self._inner.close()


# --- fetching ---------------------------------------------------------------------------------


@dataclass
class Page:
    url: str
    status_code: int
    media_type: str
    text: str
    size: int
    redirects: list[str] = field(default_factory=list)


def check_url(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise ServiceFailure(f"Refused {url}: only http and https URLs can be fetched.")
    if not url.host:
        raise ServiceFailure(f"Refused {url}: the URL has no host.")
    if url.userinfo:
        raise ServiceFailure("Refused the URL: it carries a user name or password.")


def fetch(
    url: str, *, timeout: float, allow_loopback: bool = False, max_bytes: int = MAX_BYTES
) -> Page:
    """GET `url`, following at most MAX_REDIRECTS redirects by hand; every hop's host is
    resolved and checked before the connection, which is pinned to the checked address.
    Only 2xx answers of an allowed content type and at most `max_bytes` (decoded) are read,
    all within `timeout` seconds. Every refusal or failure raises ServiceFailure."""
    deadline = time.monotonic() + timeout
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ServiceFailure(f"Refused the URL: {exc}.") from None
    hops: list[str] = []
    for _ in range(MAX_REDIRECTS + 1):
        try:
            check_url(current)
            port = current.port or (443 if current.scheme == "https" else 80)
            addresses = resolve_checked(current.host, port, allow_loopback=allow_loopback)
            outcome = _get(current, addresses, deadline, timeout, max_bytes)
        except ServiceFailure as exc:
            if not hops:
                raise
            raise ServiceFailure(f"The page redirected to {current}. {exc}") from None
        if isinstance(outcome, Page):
            outcome.redirects = hops
            return outcome
        try:
            current = current.join(outcome)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ServiceFailure(f"The page redirected to an invalid URL: {exc}.") from None
        hops.append(str(current))
    raise ServiceFailure(f"The page redirected more than {MAX_REDIRECTS} times.")


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ServiceFailure(f"The page did not load within {timeout:g} s.")
    return left


def _get(
    url: httpx.URL, addresses: list[str], deadline: float, timeout: float, max_bytes: int
) -> Page | str:
    """One request: a Page, or the Location of a redirect."""
    last_error: Exception | None = None
    for ip in addresses[:3]:
        client = httpx.Client(
            transport=PinnedTransport(ip),
            timeout=httpx.Timeout(_remaining(deadline, timeout)),
            follow_redirects=False,
            trust_env=False,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8",
            },
        )
        try:
            with client, client.stream("GET", url) as response:
                return _read(response, url, deadline, timeout, max_bytes)
        except httpx.ConnectTimeout:
            raise ServiceFailure(f"The page did not load within {timeout:g} s.") from None
        except httpx.ConnectError as exc:
            last_error = exc
            continue
        except httpx.TimeoutException:
            raise ServiceFailure(f"The page did not load within {timeout:g} s.") from None
        except httpx.HTTPError as exc:
            raise ServiceFailure(f"The page could not be fetched: {exc}.") from None
    raise ServiceFailure(f"Could not connect to {url.host}: {last_error}.")


def _read(
    response: httpx.Response, url: httpx.URL, deadline: float, timeout: float, max_bytes: int
) -> Page | str:
    status = response.status_code
    if status in REDIRECT_CODES:
        location = response.headers.get("location")
        if not location:
            raise ServiceFailure(f"The page answered HTTP {status} without a Location.")
        return location
    if not 200 <= status < 300:
        raise ServiceFailure(f"The page answered with HTTP {status}.")
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ALLOWED_TYPES:
        shown = media_type or "none given"
        raise ServiceFailure(
            f"The page's content type ({shown}) is not supported: only "
            f"{', '.join(sorted(ALLOWED_TYPES))} can be scraped."
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ServiceFailure(_too_large(max_bytes))
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ServiceFailure(_too_large(max_bytes))
        _remaining(deadline, timeout)
    return Page(
        url=str(url),
        status_code=status,
        media_type=media_type,
        text=decode(bytes(body), content_type, media_type),
        size=len(body),
    )


def _too_large(max_bytes: int) -> str:
    return f"The page is larger than the {max_bytes / (1024 * 1024):g} MB limit."


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode(body: bytes, content_type: str, media_type: str) -> str:
    """Text of a body: the declared charset, else a <meta charset>, else UTF-8, else cp1252."""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    charset = match.group(1) if match else None
    if charset is None and media_type in ("text/html", "application/xhtml+xml"):
        meta = _META_CHARSET.search(body[:4096])
        charset = meta.group(1).decode("ascii") if meta else None
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return body.decode(candidate).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")
