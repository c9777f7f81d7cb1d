"""webscraper: fetch a public web page safely and return its main content and asked-for fields."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from services.catalogue.registry import EndpointDefinition, HandlerOutput, ServiceDefinition
from services.engines import local_fetch as fetcher
from services.engines import local_or_model, run_metadata
from services.engines import local_web as web
from services.engines.llm import ChatResult, ProviderRoute, chat_json, route_for

LOCAL_MODEL = "local/web-extract"
DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 60
MAX_PROMPT_CHARS = 24_000
# http(s), a host, no user name or password; everything else is checked when fetching.
# Whitespace spelled out: Python's \s also matches \x1c-\x1f, ECMA's (OpenAPI clients') not.
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[^ \t\n\r\f\v/?#@:][^ \t\n\r\f\v/?#@]*"
    r"(?:[/?#][^ \t\n\r\f\v]*)?$"
)


def allow_loopback() -> bool:
    return bool(getattr(settings, "BREACT_WEBSCRAPER_ALLOW_LOOPBACK", False))


def _fields_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["the answer must be a JSON object of the asked-for fields"]
    return []


def _model_fields(
    route: Any,
    *,
    description: str,
    document: web.Document,
    title: str | None,
    options: dict[str, Any],
) -> ChatResult:
    links = ""
    if document.soup is not None:
        pairs = web.extract_field(document, web.FieldRequest("links", "links", True))
        links = "\n".join(f"- {link['text']} <{link['url']}>" for link in pairs[:60])
    page = document.text[:MAX_PROMPT_CHARS]
    system = (
        "You extract data from a web page. Reply with only a JSON object whose keys are the "
        "snake_case names of the fields the user asks for, with the values found on the page "
        "(null when the page does not say). Do not invent values."
    )
    user = (
        f"Fields to extract: {description}\n\nURL: {document.url}\nTitle: {title or ''}\n\n"
        f"Page text:\n{page}" + (f"\n\nLinks:\n{links}" if links else "")
    )
    return chat_json(
        route,
        system=system,
        user=user,
        check=_fields_problems,
        temperature=options.get("temperature"),
        max_tokens=options.get("max_tokens"),
    )


def scrape(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    endpoint = SERVICE.endpoints["scrape"]
    options: dict[str, Any] = params.get("options") or {}
    timeout = min(float(options.get("timeout", DEFAULT_TIMEOUT)), MAX_TIMEOUT)
    text_mode = bool(options.get("text_mode", True))
    description = (params.get("extraction_description") or "").strip()
    requested = endpoint.requested_model(params)

    page = fetcher.fetch(params["url"], timeout=timeout, allow_loopback=allow_loopback())
    document, title, main = web.document_for(page, text_mode=text_mode)
    result: dict[str, Any] = {"main_article_content": main, "title": title}
    fetched: dict[str, Any] = {"bytes": page.size, "chars": len(main)}

    def locally() -> tuple[dict[str, Any], dict[str, Any]]:
        fields: dict[str, Any] = {}
        for request in web.parse_description(description):
            if fields.get(request.name, result.get(request.name)) is None:
                fields[request.name] = web.extract_field(document, request)
        return fields, fetched

    def with_model(route: ProviderRoute) -> tuple[dict[str, Any], dict[str, Any]]:
        reply = _model_fields(
            route, description=description, document=document, title=title, options=options
        )
        fields: dict[str, Any] = {}
        for key, value in reply.data.items():
            name = web.snake_case(str(key))
            if name and name != "main_article_content":
                fields[name] = value
        return fields, {**fetched, **reply.usage.as_dict()}

    # The main content is always extracted locally; a model only reads the described fields.
    fields, model, usage = local_or_model(
        route_for(requested) if description else None,
        engine=LOCAL_MODEL,
        local=locally,
        model=with_model,
    )
    result.update(fields)
    return HandlerOutput(
        result=result,
        metadata=run_metadata(
            model=model,
            requested_model=requested,
            started=started,
            usage=usage,
            url=page.url,
            status_code=page.status_code,
            content_type=page.media_type,
            redirects=page.redirects,
        ),
    )


SERVICE = ServiceDefinition(
    id="webscraper",
    name="Web Scraper",
    description="Fetches a public web page (http/https only; private, loopback and link-local "
    "addresses refused, also after redirects) and returns its main article content, its title "
    "and the fields an extraction description asks for.",
    config={"default_model": "local"},
    endpoints={
        "scrape": EndpointDefinition(
            name="scrape",
            description="Fetch a page and extract its main content and the fields named in "
            "extraction_description (e.g. 'title, author, publication date, all email "
            "addresses and the price'). Pages must be text/html, application/xhtml+xml, "
            "text/plain or application/json, at most 2 MB; at most 5 redirects are followed, "
            "each re-checked. A refused or failed fetch is an error result and is refunded.",
            price=3,
            model_path=("model_id",),
            input_schema={
                "type": "object",
                "properties": {
                    "url": {
                        "type": "string",
                        "description": "The page to fetch: an http or https URL with a host "
                        "(no user name or password). Hosts resolving to private, loopback, "
                        "link-local, multicast or reserved addresses are refused.",
                        "maxLength": 2048,
                        "pattern": URL_PATTERN,
                    },
                    "extraction_description": {
                        "type": "string",
                        "description": "What to extract, in words. The local engine recognises "
                        "title, headings (or h2…), links, emails, phone numbers, prices, "
                        "dates, images, description, summary, author, keywords, language and "
                        "tables, and looks up any other field on the page's labels ('SKU: "
                        "…', tables, <dl>, meta tags, JSON-LD, microdata); each is returned "
                        "under its snake_case name, a list for plurals. With a model, the "
                        "model extracts the fields.",
                        "maxLength": 2000,
                    },
                    "model_id": {
                        "type": "string",
                        "description": 'Model that extracts the described fields, e.g. "gpt-4o" '
                        'when the operator has mapped it; "local" (or nothing) runs the '
                        "built-in extractor. The main content is always extracted locally.",
                        "maxLength": 200,
                    },
                    "options": {
                        "type": "object",
                        "description": "Fetch options.",
                        "properties": {
                            "timeout": {
                                "type": "number",
                                "description": "Seconds for the whole fetch, redirects included.",
                                "exclusiveMinimum": 0,
                                "maximum": MAX_TIMEOUT,
                                "default": DEFAULT_TIMEOUT,
                            },
                            "text_mode": {
                                "type": "boolean",
                                "description": "true: main_article_content is plain text; "
                                "false: simplified HTML (with links) for HTML pages.",
                                "default": True,
                            },
                            "wait_until": {
                                "type": "string",
                                "description": "Accepted for compatibility and ignored: pages "
                                "are fetched without a browser, so scripts do not run.",
                                "enum": ["load", "domcontentloaded", "networkidle", "commit"],
                            },
                            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 16_000},
                        },
                        "additionalProperties": False,
                    },
                },
                "required": ["url"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "main_article_content, title, and one key per field of "
                "extraction_description (null or [] when the page has none); metadata: url "
                "(final, after redirects), status_code, content_type, redirects, "
                "processing_time, model.",
            },
            handler=scrape,
            example={
                "url": "https://example.com",
                "extraction_description": "title, headings and all links",
                "options": {"timeout": 30, "text_mode": True},
            },
            # What the local engine answers for the example (it fetches the page, so the docs
            # cannot run it; tests/services/test_examples.py checks this against the engine).
            example_result={
                "main_article_content": "This domain is for use in illustrative examples in "
                "documents. You may use this domain in literature without prior coordination "
                "or asking for permission.\nMore information...",
                "title": "Example Domain",
                "headings": ["Example Domain"],
                "links": [
                    {"text": "More information...", "url": "https://www.iana.org/domains/example"}
                ],
            },
        )
    },
)
