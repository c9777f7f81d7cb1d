"""Knowledge bases in the console: create, upload files, list, delete, pick in the playground."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from services.knowledge import actions as kb_actions
from services.models import KnowledgeBase, KnowledgeDocument, Process
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
LIST = "/knowledge/"


def _base(account: Any, name: str = "Handbook") -> KnowledgeBase:
    return kb_actions.knowledge_base_create(account=account, name=name)


def _file(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="application/octet-stream")


@pytest.mark.parametrize("url", [LIST, "/knowledge/kb_x/", "/knowledge/kb_x/delete/"])
def test_pages_require_login(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_base_page_links_to_the_playground_with_the_base_picked(page_client: Client, account):
    base = _base(account)

    html = page_client.get(f"/knowledge/{base.public_id}/").content.decode()

    query = f"service=knowledge_service&amp;endpoint=process&amp;kb={base.public_id}"
    assert f'href="/playground/?{query}"' in html


def test_create_lists_and_opens_the_new_base(page_client: Client, account: Any) -> None:
    response = page_client.post(LIST, {"name": " Support ", "description": "FAQ"})

    base = KnowledgeBase.objects.get(account=account)
    assert base.name == "Support" and base.description == "FAQ"
    assert response.status_code == 302 and response["Location"] == f"/knowledge/{base.public_id}/"
    listing = page_client.get(LIST).content.decode()
    assert f'data-kb="{base.public_id}"' in listing and "Support" in listing


def test_a_duplicate_or_blank_name_is_a_form_error(page_client: Client, account: Any) -> None:
    _base(account, "Support")

    duplicate = page_client.post(LIST, {"name": "Support"})
    blank = page_client.post(LIST, {"name": "  "})

    assert duplicate.status_code == 200 and "already has a knowledge base named" in (
        duplicate.content.decode()
    )
    assert blank.status_code == 200 and blank.context["form"].errors["name"]
    assert KnowledgeBase.objects.filter(account=account).count() == 1


def test_only_my_bases_are_listed_and_others_answer_404(page_client: Client, account: Any):
    mine = _base(account, "Mine")
    theirs = _base(AccountFactory(), "Theirs")

    listing = page_client.get(LIST).content.decode()

    assert "Mine" in listing and "Theirs" not in listing
    assert page_client.get(f"/knowledge/{theirs.public_id}/").status_code == 404
    assert page_client.post(f"/knowledge/{theirs.public_id}/delete/").status_code == 404
    assert KnowledgeBase.objects.filter(pk=theirs.pk).exists()
    assert page_client.get(f"/knowledge/{mine.public_id}/").status_code == 200


def test_upload_text_markdown_and_html_files(page_client: Client, account: Any) -> None:
    base = _base(account)

    response = page_client.post(
        f"/knowledge/{base.public_id}/",
        {
            "documents": [
                _file("notes.txt", "Refunds take 30 days."),
                _file("guide.md", "# Shipping\n\nShipping takes *five* days."),
                _file(
                    "page.html", "<title>Returns</title><script>x()</script><p>Return by mail.</p>"
                ),
            ]
        },
    )

    assert response.status_code == 302
    documents = {d.title: d for d in KnowledgeDocument.objects.filter(knowledge_base=base)}
    assert set(documents) == {"Refunds take 30 days.", "Shipping", "Returns"}
    assert documents["Shipping"].content_type == "markdown"
    assert documents["Returns"].content_type == "html" and "x()" not in documents["Returns"].text
    page = page_client.get(f"/knowledge/{base.public_id}/").content.decode()
    assert "Added 3 documents" in page and page.count("<tr data-doc=") == 3


def test_a_single_upload_takes_the_title_given(page_client: Client, account: Any) -> None:
    base = _base(account)

    page_client.post(
        f"/knowledge/{base.public_id}/", {"documents": _file("a.txt", "Text."), "title": "Policy"}
    )

    assert KnowledgeDocument.objects.get(knowledge_base=base).title == "Policy"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_file("sheet.pdf", "%PDF"), "only .txt, .md and .html"),
        (SimpleUploadedFile("latin.txt", "café".encode("latin-1")), "not UTF-8"),
        (_file("empty.txt", "   "), "no text to index"),
        (_file("big.txt", "a" * (kb_actions.MAX_DOCUMENT_BYTES + 1)), "at most"),
    ],
)
def test_bad_files_are_form_errors_not_500s(
    page_client: Client, account: Any, upload: SimpleUploadedFile, message: str
) -> None:
    base = _base(account)

    response = page_client.post(f"/knowledge/{base.public_id}/", {"documents": upload})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not KnowledgeDocument.objects.filter(knowledge_base=base).exists()


def test_no_file_is_a_form_error(page_client: Client, account: Any) -> None:
    base = _base(account)

    response = page_client.post(f"/knowledge/{base.public_id}/", {})

    assert response.status_code == 200 and response.context["form"].errors["documents"]


def test_delete_a_document_and_a_base(page_client: Client, account: Any) -> None:
    base = _base(account)
    document = kb_actions.document_add(knowledge_base=base, content="Some text.")

    page_client.post(f"/knowledge/{base.public_id}/documents/{document.public_id}/delete/")
    assert not KnowledgeDocument.objects.filter(pk=document.pk).exists()
    confirm = page_client.get(f"/knowledge/{base.public_id}/delete/")
    assert confirm.status_code == 200 and 'id="kb-delete-form"' in confirm.content.decode()
    response = page_client.post(f"/knowledge/{base.public_id}/delete/")

    assert response.status_code == 302 and response["Location"] == LIST
    assert not KnowledgeBase.objects.filter(pk=base.pk).exists()


def test_document_delete_needs_post_and_refuses_another_accounts_document(
    page_client: Client, account
):
    mine = _base(account)
    kept = kb_actions.document_add(knowledge_base=mine, content="Mine.")
    theirs = _base(AccountFactory())
    document = kb_actions.document_add(knowledge_base=theirs, content="Secret.")
    url = f"/knowledge/{theirs.public_id}/documents/{document.public_id}/delete/"

    get_mine = page_client.get(f"/knowledge/{mine.public_id}/documents/{kept.public_id}/delete/")
    assert get_mine.status_code == 302 and get_mine["Location"] == f"/knowledge/{mine.public_id}/"
    assert KnowledgeDocument.objects.filter(pk=kept.pk).exists()
    assert page_client.get(url).status_code == 404
    assert page_client.post(url).status_code == 404
    assert KnowledgeDocument.objects.filter(pk=document.pk).exists()


# --- the playground ------------------------------------------------------------------------------

PLAYGROUND = "/playground/?service=knowledge_service&endpoint=process"


def test_playground_offers_my_bases_by_name(page_client: Client, account: Any) -> None:
    base = _base(account, "Handbook")
    _base(AccountFactory(), "Not mine")

    html = page_client.get(PLAYGROUND + f"&kb={base.public_id}").content.decode()

    assert 'name="p.context.knowledgeBases"' in html
    assert f'value="{base.public_id}"' in html and "Handbook (0 documents)" in html
    assert "Not mine" not in html
    checkbox = html[html.index(f'value="{base.public_id}"') :].split(">")[0]
    assert "checked" in checkbox  # the base page's "ask" link picks it


def test_without_bases_the_field_stays_free_text(page_client: Client, account: Any) -> None:
    html = page_client.get(PLAYGROUND).content.decode()

    assert '<textarea id="param-context-knowledgeBases"' in html


def test_a_run_with_picked_bases_sends_their_ids(page_client: Client, account: Any) -> None:
    first, second = _base(account, "One"), _base(account, "Two")
    kb_actions.document_add(knowledge_base=first, content="Refunds take 30 days.")

    response = page_client.post(
        "/playground/run/",
        {
            "service": "knowledge_service",
            "endpoint": "process",
            "mode": "form",
            "p.content": "How long do refunds take?",
            "p.context.knowledgeBases": [first.public_id, second.public_id],
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    process = Process.objects.get(account=account)
    assert process.params["context"]["knowledgeBases"] == [first.public_id, second.public_id]
