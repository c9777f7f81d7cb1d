"""/api/v1/knowledge-bases: CRUD of account-owned knowledge bases and their documents."""

from __future__ import annotations

from typing import Any

import pytest

from services.knowledge import actions as kb_actions
from services.models import KnowledgeBase, KnowledgeDocument

pytestmark = pytest.mark.django_db

BASES = "/api/v1/knowledge-bases"


def create_base(client: Any, name: str = "Help centre", description: str = "") -> dict[str, Any]:
    response = client.post(BASES, {"name": name, "description": description}, format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def add_document(
    client: Any, kb_id: str, content: str, content_type: str = "text", title: str = ""
) -> Any:
    return client.post(
        f"{BASES}/{kb_id}/documents",
        {"title": title, "content": content, "content_type": content_type},
        format="json",
    )


# --- knowledge bases --------------------------------------------------------------------------


def test_create_answers_201_with_an_opaque_id_and_no_charge(keyed_client, key):
    response = keyed_client.post(
        BASES, {"name": "Help centre", "description": "Support articles"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("kb_")
    assert len(body["id"]) > 20
    assert body["name"] == "Help centre"
    assert body["description"] == "Support articles"
    assert body["document_count"] == 0
    assert body["created_at"].endswith("Z")
    assert response["X-RateLimit-Limit"]
    key.account.refresh_from_db()
    assert key.account.balance == 100


def test_create_without_a_name_is_a_bad_request_with_the_path(keyed_client, assert_error):
    body = assert_error(
        keyed_client.post(BASES, {"description": "x"}, format="json"), 400, "BAD_REQUEST"
    )

    assert {"path": "name", "message": "This field is required."} in body["details"]["errors"]


def test_create_with_a_blank_name_is_refused(keyed_client, assert_error):
    body = assert_error(
        keyed_client.post(BASES, {"name": "   "}, format="json"), 400, "BAD_REQUEST"
    )

    assert body["details"]["errors"][0]["path"] == "name"


def test_create_with_an_overlong_name_is_refused(keyed_client, assert_error):
    response = keyed_client.post(BASES, {"name": "n" * 101}, format="json")

    assert assert_error(response, 400, "BAD_REQUEST")["details"]["errors"][0]["path"] == "name"


def test_create_with_a_body_that_is_not_an_object_is_refused(keyed_client, assert_error):
    response = keyed_client.post(BASES, data="[1, 2]", content_type="application/json")

    assert_error(response, 400, "BAD_REQUEST")


def test_names_are_unique_per_account_but_not_across_accounts(
    keyed_client, make_key, client_for, assert_error
):
    create_base(keyed_client, "Docs")

    body = assert_error(
        keyed_client.post(BASES, {"name": "Docs"}, format="json"), 400, "BAD_REQUEST"
    )
    assert "already has a knowledge base named" in body["message"]
    assert create_base(client_for(make_key()), "Docs")["name"] == "Docs"


def test_bases_per_account_are_limited(keyed_client, assert_error, monkeypatch):
    monkeypatch.setattr(kb_actions, "MAX_BASES_PER_ACCOUNT", 2)
    create_base(keyed_client, "one")
    create_base(keyed_client, "two")

    body = assert_error(
        keyed_client.post(BASES, {"name": "three"}, format="json"), 400, "BAD_REQUEST"
    )

    assert body["details"] == {"limit": 2}
    assert KnowledgeBase.objects.count() == 2


def test_get_returns_the_base_with_its_document_count(keyed_client):
    base = create_base(keyed_client)
    add_document(keyed_client, base["id"], "First document.")
    add_document(keyed_client, base["id"], "Second document.")

    body = keyed_client.get(f"{BASES}/{base['id']}").json()

    assert body["id"] == base["id"]
    assert body["document_count"] == 2


def test_list_is_newest_first_and_only_the_accounts_own(keyed_client, make_key, client_for):
    other = client_for(make_key())
    create_base(other, "not mine")
    first = create_base(keyed_client, "first")
    second = create_base(keyed_client, "second")

    body = keyed_client.get(BASES).json()

    assert [b["id"] for b in body["results"]] == [second["id"], first["id"]]
    assert body["next"] is None


def test_list_pages_with_limit_and_cursor_without_gaps_or_repeats(keyed_client):
    created = [create_base(keyed_client, f"base {i}")["id"] for i in range(5)]

    seen: list[str] = []
    url: str | None = f"{BASES}?limit=2"
    pages = 0
    while url:
        body = keyed_client.get(url).json()
        assert len(body["results"]) <= 2
        seen += [b["id"] for b in body["results"]]
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == list(reversed(created))


def test_list_with_a_forged_cursor_is_a_bad_request_in_the_envelope(keyed_client, assert_error):
    create_base(keyed_client)

    body = assert_error(keyed_client.get(f"{BASES}?cursor=bm9wZQ"), 400, "BAD_REQUEST")
    assert body["details"]["errors"][0]["path"] == "cursor"


def test_another_accounts_base_is_not_found_for_every_method(
    keyed_client, make_key, client_for, assert_error
):
    other = client_for(make_key())
    theirs = create_base(other, "theirs")
    document = add_document(other, theirs["id"], "Secret text.").json()
    kb = f"{BASES}/{theirs['id']}"

    missing = assert_error(keyed_client.get(f"{BASES}/kb_doesnotexist"), 404, "NOT_FOUND")
    for response in (
        keyed_client.get(kb),
        keyed_client.delete(kb),
        keyed_client.get(f"{kb}/documents"),
        add_document(keyed_client, theirs["id"], "Injected."),
        keyed_client.get(f"{kb}/documents/{document['id']}"),
        keyed_client.delete(f"{kb}/documents/{document['id']}"),
    ):
        body = assert_error(response, 404, "NOT_FOUND")
        assert body["message"].replace(theirs["id"], "kb_doesnotexist") == missing["message"]
    assert KnowledgeBase.objects.filter(public_id=theirs["id"]).exists()
    assert KnowledgeDocument.objects.filter(knowledge_base__public_id=theirs["id"]).count() == 1


def test_delete_removes_the_base_and_its_documents(keyed_client, assert_error):
    base = create_base(keyed_client)
    add_document(keyed_client, base["id"], "Some text.")

    response = keyed_client.delete(f"{BASES}/{base['id']}")

    assert response.status_code == 200
    assert response.json() == {"id": base["id"], "deleted": True}
    assert_error(keyed_client.get(f"{BASES}/{base['id']}"), 404, "NOT_FOUND")
    assert KnowledgeDocument.objects.count() == 0


def test_a_key_scoped_to_other_services_may_not_use_knowledge_bases(
    make_key, client_for, assert_error
):
    scoped = client_for(make_key(scopes=["text_analyzer"]))

    assert_error(scoped.get(BASES), 403, "FORBIDDEN")


def test_a_key_scoped_to_the_knowledge_service_may(make_key, client_for):
    scoped = client_for(make_key(scopes=["knowledge_service"]))

    assert scoped.get(BASES).status_code == 200


def test_without_a_key_the_answer_is_401(api_client, assert_error):
    assert_error(api_client.get(BASES), 401, "MISSING_API_KEY")


def test_knowledge_base_requests_are_rate_limited_like_reads(
    keyed_client, settings, assert_error, still_rate_clock
):
    settings.BREACT_POLL_RATE_LIMIT = "2/m"
    keyed_client.get(BASES)
    keyed_client.post(BASES, {"name": "x"}, format="json")

    response = keyed_client.get(BASES)

    assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert response["Retry-After"]


# --- documents --------------------------------------------------------------------------------


def test_add_a_text_document_returns_it_with_passages(keyed_client, key):
    base = create_base(keyed_client)

    response = add_document(
        keyed_client, base["id"], "Line one of the note.\n\nLine two.", title="Note"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("doc_")
    assert body["knowledge_base"] == base["id"]
    assert body["title"] == "Note"
    assert body["content_type"] == "text"
    assert body["text"] == "Line one of the note.\n\nLine two."
    assert body["char_count"] == len(body["text"])
    assert body["chunk_count"] == 1
    key.account.refresh_from_db()
    assert key.account.balance == 100


def test_html_is_reduced_to_its_text_without_scripts_or_styles(keyed_client):
    base = create_base(keyed_client)
    html = (
        "<html><head><title>Shipping times</title><style>p { color: red }</style>"
        "<script>alert('x')</script></head><body><nav>Menu</nav><h1>Shipping</h1>"
        "<p>Orders ship within <b>two</b> days.<br>Express takes one day.</p>"
        "<noscript>Enable JS</noscript><!-- hidden comment --><ul><li>EU</li><li>UK</li></ul>"
        "<table><tr><th>Zone</th><th>Days</th></tr><tr><td>EU</td><td>2</td></tr></table>"
        "</body></html>"
    )

    body = add_document(keyed_client, base["id"], html, "html").json()

    assert body["title"] == "Shipping times"
    assert "Orders ship within two days.\nExpress takes one day." in body["text"]
    assert "Zone | Days\n\nEU | 2" in body["text"]
    for hidden in ("alert", "color", "Enable JS", "hidden comment", "<"):
        assert hidden not in body["text"]
    assert body["content"] == html


def test_markdown_is_reduced_to_its_text(keyed_client):
    base = create_base(keyed_client)
    markdown = (
        "# Returns\n\nSend items back within **30 days** using the [form](https://x.test/f).\n\n"
        "- Keep the receipt\n- Use the original box\n\n```\ncode block\n```\n\n"
        "<script>steal()</script>\n"
    )

    body = add_document(keyed_client, base["id"], markdown, "markdown").json()

    assert body["title"] == "Returns"
    assert body["text"].startswith("Returns\n\nSend items back within 30 days using the form.")
    assert "Keep the receipt\n\nUse the original box" in body["text"]
    assert "code block" in body["text"]
    for markup in ("**", "](", "#", "steal", "https://"):
        assert markup not in body["text"]


def test_mime_content_types_are_accepted(keyed_client):
    base = create_base(keyed_client)

    body = add_document(keyed_client, base["id"], "<p>Hi there.</p>", "text/html").json()

    assert body["content_type"] == "html"
    assert body["text"] == "Hi there."


def test_an_unknown_content_type_is_refused(keyed_client, assert_error):
    base = create_base(keyed_client)

    body = assert_error(add_document(keyed_client, base["id"], "x", "pdf"), 400, "BAD_REQUEST")

    assert body["details"]["errors"][0]["path"] == "content_type"


def test_a_document_without_text_is_refused(keyed_client, assert_error):
    base = create_base(keyed_client)

    response = add_document(keyed_client, base["id"], "<script>only()</script>", "html")

    assert assert_error(response, 400, "BAD_REQUEST")["details"]["errors"][0]["path"] == "content"


def test_the_title_defaults_to_the_first_line(keyed_client):
    base = create_base(keyed_client)

    body = add_document(keyed_client, base["id"], "Opening hours\nWe open at nine.").json()

    assert body["title"] == "Opening hours"


def test_a_long_document_is_cut_into_overlapping_passages(keyed_client):
    base = create_base(keyed_client)
    text = " ".join(f"Fact number {i} is about item {i}." for i in range(300))

    body = add_document(keyed_client, base["id"], text).json()
    document = KnowledgeDocument.objects.get(public_id=body["id"])

    assert body["chunk_count"] == len(document.chunks) > 5
    for passage in document.chunks:
        assert len(passage.split()) <= 200
    first_words = set(document.chunks[1].split()[:6])
    assert first_words <= set(document.chunks[0].split())


def test_a_document_over_the_size_limit_is_413(keyed_client, assert_error):
    base = create_base(keyed_client)

    response = add_document(keyed_client, base["id"], "a" * (kb_actions.MAX_DOCUMENT_BYTES + 1))

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["limit"] == kb_actions.MAX_DOCUMENT_BYTES
    assert KnowledgeDocument.objects.count() == 0


def test_the_size_limit_counts_utf8_bytes(keyed_client, assert_error, monkeypatch):
    monkeypatch.setattr(kb_actions, "MAX_DOCUMENT_BYTES", 10)
    base = create_base(keyed_client)

    assert_error(add_document(keyed_client, base["id"], "ééééééé"), 413, "PAYLOAD_TOO_LARGE")


def test_documents_per_base_are_limited(keyed_client, assert_error, monkeypatch):
    monkeypatch.setattr(kb_actions, "MAX_DOCUMENTS_PER_BASE", 2)
    base = create_base(keyed_client)
    add_document(keyed_client, base["id"], "One.")
    add_document(keyed_client, base["id"], "Two.")

    body = assert_error(add_document(keyed_client, base["id"], "Three."), 400, "BAD_REQUEST")

    assert body["details"] == {"limit": 2}


def test_text_per_base_is_limited(keyed_client, assert_error, monkeypatch):
    monkeypatch.setattr(kb_actions, "MAX_BASE_CHARS", 30)
    base = create_base(keyed_client)
    add_document(keyed_client, base["id"], "Twenty characters ok")

    body = assert_error(
        add_document(keyed_client, base["id"], "Another twenty chars"), 400, "BAD_REQUEST"
    )

    assert body["details"]["used"] == 20


def test_nul_characters_in_a_document_are_refused_before_storage(keyed_client, assert_error):
    base = create_base(keyed_client)
    raw = '{"content": "Safe\\u0000 text \\ud800 here.", "title": "T"}'

    response = keyed_client.post(
        f"{BASES}/{base['id']}/documents", data=raw, content_type="application/json"
    )

    assert_error(response, 400, "BAD_REQUEST")
    assert KnowledgeDocument.objects.count() == 0


def test_the_action_drops_nul_characters_and_lone_surrogates(key):
    base = kb_actions.knowledge_base_create(account=key.account, name="n\x00ame")

    document = kb_actions.document_add(
        knowledge_base=base, content="Safe\x00 text \ud800 here.", title="T\x00"
    )

    assert base.name == "name"
    assert document.text == "Safe text ? here."
    assert document.source == "Safe text ? here."
    assert document.title == "T"


def test_document_list_is_newest_first_without_text_and_pages(keyed_client):
    base = create_base(keyed_client)
    ids = [add_document(keyed_client, base["id"], f"Doc {i}.").json()["id"] for i in range(3)]

    first = keyed_client.get(f"{BASES}/{base['id']}/documents?limit=2").json()
    second = keyed_client.get(first["next"]).json()

    assert [d["id"] for d in first["results"] + second["results"]] == list(reversed(ids))
    assert "text" not in first["results"][0]
    assert set(first["results"][0]) == {
        "id",
        "knowledge_base",
        "title",
        "content_type",
        "char_count",
        "chunk_count",
        "created_at",
    }


def test_get_document_returns_content_and_text(keyed_client):
    base = create_base(keyed_client)
    doc = add_document(keyed_client, base["id"], "<p>Hello</p>", "html").json()

    body = keyed_client.get(f"{BASES}/{base['id']}/documents/{doc['id']}").json()

    assert body["content"] == "<p>Hello</p>"
    assert body["text"] == "Hello"


def test_a_document_of_another_base_of_the_same_account_is_not_found(keyed_client, assert_error):
    one = create_base(keyed_client, "one")
    two = create_base(keyed_client, "two")
    doc = add_document(keyed_client, one["id"], "Text.").json()

    assert_error(keyed_client.get(f"{BASES}/{two['id']}/documents/{doc['id']}"), 404, "NOT_FOUND")


def test_delete_document_removes_it_and_touches_the_base(keyed_client, assert_error):
    base = create_base(keyed_client)
    doc = add_document(keyed_client, base["id"], "Text.").json()
    before = keyed_client.get(f"{BASES}/{base['id']}").json()["updated_at"]

    response = keyed_client.delete(f"{BASES}/{base['id']}/documents/{doc['id']}")

    assert response.json() == {"id": doc["id"], "deleted": True}
    assert_error(keyed_client.get(f"{BASES}/{base['id']}/documents/{doc['id']}"), 404, "NOT_FOUND")
    after = keyed_client.get(f"{BASES}/{base['id']}").json()
    assert after["document_count"] == 0
    assert after["updated_at"] >= before


def test_knowledge_base_routes_are_in_the_openapi_schema(keyed_client):
    schema = keyed_client.get("/api/v1/schema?format=json").json()

    assert "/api/v1/knowledge-bases" in schema["paths"]
    assert "/api/v1/knowledge-bases/{kb_id}/documents/{doc_id}" in schema["paths"]
    operations = {
        op["operationId"]
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {"knowledge_bases_create", "knowledge_documents_create"} <= operations
