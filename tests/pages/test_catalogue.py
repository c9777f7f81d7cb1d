"""The services catalogue and the page per service."""

from __future__ import annotations

import json
import re
import shlex
from html import unescape

import pytest

from services.catalogue.selectors import endpoint_rows
from services.models import Endpoint, Service

pytestmark = pytest.mark.django_db


def _pre(html: str, element_id: str) -> str:
    match = re.search(rf'<pre id="{element_id}"[^>]*><code>(.*?)</code></pre>', html, re.DOTALL)
    assert match, f"no <pre id={element_id}>"
    return unescape(match.group(1))


def test_catalogue_requires_login(client):
    response = client.get("/services/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/services/")


def test_service_page_requires_login(client):
    response = client.get("/services/text_analyzer/")

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_catalogue_lists_every_enabled_service_with_endpoints_and_prices(page_client):
    response = page_client.get("/services/")

    html = response.content.decode()
    assert response.status_code == 200
    for service_id in ("summary", "text_analyzer", "classifier", "webscraper", "email_response"):
        assert f'id="service-{service_id}"' in html
    assert "<code>analyze_thread</code>" in html
    assert "3 credits" in html and "1 credit<" in html
    assert 'hx-get="/services/"' in html and 'hx-push-url="true"' in html
    assert 'id="catalogue-search-button"' in html


def test_catalogue_search_matches_name_description_and_endpoint_case_insensitively(page_client):
    by_endpoint = page_client.get("/services/", {"q": "SCRAPE"}).content.decode()
    by_description = page_client.get("/services/", {"q": "bm25"}).content.decode()
    by_alias = page_client.get("/services/", {"q": "aisummary"}).content.decode()

    assert 'id="service-webscraper"' in by_endpoint
    assert 'id="service-summary"' not in by_endpoint
    assert 'id="service-knowledge_service"' in by_description
    assert 'id="service-text_analyzer"' not in by_description
    assert 'id="service-summary"' in by_alias
    assert "1 of" in by_endpoint


def test_catalogue_search_without_match_shows_the_empty_state(page_client):
    response = page_client.get("/services/", {"q": "no such thing zzz"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="catalogue-empty"' in html
    assert "No service matches “no such thing zzz”" in html
    assert 'class="card stack service-card"' not in html


def test_catalogue_htmx_search_returns_the_list_partial_only(page_client):
    response = page_client.get("/services/", {"q": "text"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="service-list"')
    assert 'id="service-text_analyzer"' in html
    assert response["HX-Push-Url"] == "/services/?q=text"


def test_disabled_service_is_not_listed_and_its_page_answers_404(page_client):
    endpoint_rows()
    Service.objects.filter(service_id="webscraper").update(enabled=False)

    listing = page_client.get("/services/").content.decode()
    page = page_client.get("/services/webscraper/")

    assert 'id="service-webscraper"' not in listing
    assert page.status_code == 404


def test_disabled_endpoint_is_left_out_of_its_service_page(page_client):
    endpoint_rows()
    Endpoint.objects.filter(service__service_id="email_response", name="analyze_thread").update(
        enabled=False
    )

    html = page_client.get("/services/email_response/").content.decode()

    assert 'id="endpoint-generate_response"' in html
    assert 'id="endpoint-analyze_thread"' not in html


def test_unknown_service_page_answers_404(page_client):
    assert page_client.get("/services/nope/").status_code == 404


def test_service_page_by_alias_shows_the_service(page_client):
    response = page_client.get("/services/aisummary/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="endpoint-summarize"' in html
    assert "<code>POST /api/v1/services/summary/summarize</code>" in html


def test_service_page_parameter_table_has_nested_fields_enums_limits_and_defaults(page_client):
    html = page_client.get("/services/classifier/").content.decode()
    table = html[html.index('id="endpoint-process-parameters"') :]
    table = table[: table.index("</table>")]

    assert '<code class="param-name">context.allowedClasses</code>' in table
    assert '<code class="param-name">config.temperature</code>' in table
    assert "<code>array of string</code>" in table
    assert "at most 100 items" in table and "unique items" in table
    assert "≤ 1" in table
    assert "<code>&quot;mistral-large-2411&quot;</code>" in table
    assert "required" in table


def test_service_page_parameter_table_lists_enum_values_and_list_item_fields(page_client):
    html = page_client.get("/services/email_response/").content.decode()

    assert '<code class="param-name">email_thread[].sender</code>' in html
    assert "<code>professional</code>" in html and "<code>empathetic</code>" in html
    assert '<code class="param-name">style_guide.greeting_style</code>' in html


def test_service_page_shows_price_examples_and_playground_link(page_client):
    html = page_client.get("/services/text_analyzer/").content.decode()

    assert "1 credit per call" in html
    example = json.loads(_pre(html, "endpoint-analyze-example-request"))
    assert example == {"text": "Hello world. This is BReact."}
    response = json.loads(_pre(html, "endpoint-analyze-example-response"))
    assert response["status"] == "success" and "metadata" in response
    assert 'href="/playground/?service=text_analyzer&amp;endpoint=analyze"' in html


def test_service_page_snippets_are_valid_python_and_curl_with_a_json_body(page_client):
    html = page_client.get("/services/email_response/").content.decode()

    for endpoint in ("analyze_thread", "generate_response"):
        sdk = _pre(html, f"endpoint-{endpoint}-sdk")
        compile(sdk, f"{endpoint}.py", "exec")
        assert "from breactsdk import create_client" in sdk
        assert f"client.email_response.{endpoint}(" in sdk
        assert 'base_url="http://testserver"' in sdk
        words = shlex.split(_pre(html, f"endpoint-{endpoint}-curl"), comments=True)
        body = json.loads(words[words.index("-d") + 1])
        assert "email_thread" in body
        assert f"http://testserver/api/v1/services/email_response/{endpoint}" in words
        assert "x-api-key: $BREACT_API_KEY" in words


def test_every_service_page_renders_valid_snippets(page_client):
    from services.catalogue.registry import all_services

    for service_id, definition in all_services().items():
        html = page_client.get(f"/services/{service_id}/").content.decode()
        for name, endpoint in definition.endpoints.items():
            compile(_pre(html, f"endpoint-{name}-sdk"), f"{service_id}.py", "exec")
            words = shlex.split(_pre(html, f"endpoint-{name}-curl"), comments=True)
            assert json.loads(words[words.index("-d") + 1]) == endpoint.example


def test_pages_never_show_an_api_key(page_client, account, make_key):
    key = make_key(account=account)

    pages = [page_client.get(url).content.decode() for url in ("/services/", "/services/summary/")]

    assert all(key.raw not in html for html in pages)


def test_catalogue_search_query_is_escaped(page_client):
    html = page_client.get("/services/", {"q": "<script>x</script>"}).content.decode()

    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_every_example_response_shows_a_real_result(page_client):
    """Each endpoint's example response carries what its example call returns, not `{}`."""
    from services.catalogue.registry import all_services

    for service_id, service in all_services().items():
        html = page_client.get(f"/services/{service_id}/").content.decode()
        for name in service.endpoints:
            body = json.loads(_pre(html, f"endpoint-{name}-example-response"))
            assert body["result"] not in ({}, [], None, ""), f"{service_id}.{name}"


def _patterns(schema: object) -> set[str]:
    """Every `pattern` anywhere in a JSON Schema."""
    if isinstance(schema, list):
        return set().union(*map(_patterns, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = {schema["pattern"]} if isinstance(schema.get("pattern"), str) else set()
    return found.union(*map(_patterns, schema.values()))


@pytest.mark.parametrize(
    ("service_id", "words"),
    [
        ("webscraper", "an http:// or https:// URL"),
        ("email_response", "an email address, or several separated by commas"),
        ("knowledge_service", "each item a knowledge-base id (kb_…)"),
        ("information_tracker", "a date as YYYY-MM-DD"),
        ("text_analyzer", "not blank"),
    ],
)
def test_service_page_says_a_pattern_in_words(page_client, service_id, words):
    html = unescape(page_client.get(f"/services/{service_id}/").content.decode())

    assert words in html


def test_no_service_page_shows_a_regular_expression(page_client):
    from services.catalogue.registry import all_services

    for service_id, definition in all_services().items():
        html = page_client.get(f"/services/{service_id}/").content.decode()
        text = unescape(html)
        for endpoint in definition.endpoints.values():
            for pattern in _patterns(endpoint.input_schema):
                assert pattern not in text, (service_id, pattern)
        for fragment in ("pattern ", "a pattern", "[^", "^[", "\\t\\n", "]{"):
            assert fragment not in text, (service_id, fragment)
