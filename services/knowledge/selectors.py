"""Reads on knowledge bases and documents: owner-checked getters, lists, retrieval passages."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, QuerySet

from accounts.models import Account
from breact.errors import NotFound
from services.engines.local_knowledge import Passage
from services.models import KnowledgeBase, KnowledgeDocument

_LIST_FIELDS = (
    "id",
    "public_id",
    "knowledge_base",
    "title",
    "content_type",
    "char_count",
    "chunk_count",
    "created_at",
)


def knowledge_base_list(*, account: Account) -> QuerySet[KnowledgeBase]:
    """The account's knowledge bases, newest first, each with `document_count`."""
    return (
        KnowledgeBase.objects.filter(account=account)
        .annotate(document_count=Count("documents"))
        .order_by("-created_at", "-id")
    )


def knowledge_base_get(*, account: Account, kb_id: str) -> KnowledgeBase:
    """The base `kb_id` of `account` (with `document_count`); NotFound for a missing base and
    another account's base alike."""
    base = knowledge_base_list(account=account).filter(public_id=kb_id).first()
    if base is None:
        raise NotFound(f"There is no knowledge base {kb_id!r} in this account.")
    return base


def document_list(*, knowledge_base: KnowledgeBase) -> QuerySet[KnowledgeDocument]:
    """The base's documents, newest first, without their text (see document_get)."""
    return (
        KnowledgeDocument.objects.filter(knowledge_base=knowledge_base)
        .select_related("knowledge_base")
        .only(*_LIST_FIELDS, "knowledge_base__public_id")
        .order_by("-created_at", "-id")
    )


def document_get(*, knowledge_base: KnowledgeBase, doc_id: str) -> KnowledgeDocument:
    """Document `doc_id` of the (already owner-checked) base; NotFound otherwise."""
    document = (
        KnowledgeDocument.objects.filter(knowledge_base=knowledge_base, public_id=doc_id)
        .select_related("knowledge_base")
        .first()
    )
    if document is None:
        raise NotFound(
            f"There is no document {doc_id!r} in knowledge base {knowledge_base.public_id!r}."
        )
    return document


def knowledge_base_ids_missing(*, account: Account, kb_ids: Sequence[str]) -> list[str]:
    """The ids among `kb_ids` that are not knowledge bases of `account` (missing or not its own),
    in the order given."""
    owned = set(
        KnowledgeBase.objects.filter(account=account, public_id__in=kb_ids).values_list(
            "public_id", flat=True
        )
    )
    return [kb_id for kb_id in kb_ids if kb_id not in owned]


def knowledge_passages(*, kb_ids: Sequence[str]) -> tuple[list[str], list[Passage]]:
    """(the ids among `kb_ids` that exist, the passages of all their documents). Ownership is
    checked before the call is charged (knowledge_service.prepare_params); knowledge-base ids
    are unguessable."""
    found = list(
        KnowledgeBase.objects.filter(public_id__in=kb_ids).values_list("public_id", flat=True)
    )
    rows = (
        KnowledgeDocument.objects.filter(knowledge_base__public_id__in=found)
        .order_by("knowledge_base_id", "created_at", "id")
        .values_list("knowledge_base__public_id", "public_id", "title", "chunks")
    )
    passages = [
        Passage(text=chunk, title=title, kb_id=kb_id, doc_id=doc_id, position=i)
        for kb_id, doc_id, title, chunks in rows.iterator(chunk_size=50)
        for i, chunk in enumerate(chunks)
    ]
    return found, passages
