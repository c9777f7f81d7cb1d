"""Writes on knowledge bases and their documents (text extraction and passages included)."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from breact.errors import BadRequest, PayloadTooLarge
from services.engines.local_knowledge import (
    CONTENT_TYPES,
    chunk_text,
    extract_text,
    fallback_title,
    normalise_content_type,
    trim_text,
)
from services.models import KnowledgeBase, KnowledgeDocument

MAX_BASES_PER_ACCOUNT = 20
MAX_DOCUMENTS_PER_BASE = 100
MAX_DOCUMENT_BYTES = 1_000_000
MAX_BASE_CHARS = 2_000_000  # extracted text per base; bounds the work of one query
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 1000
MAX_TITLE_CHARS = 200


def _clean(value: str) -> str:
    """`value` storable in any database: lone surrogates (valid JSON escapes, invalid UTF-8)
    become "?", NUL characters are dropped (PostgreSQL text cannot hold them)."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _field_error(path: str, message: str) -> BadRequest:
    return BadRequest(message, details={"errors": [{"path": path, "message": message}]})


@transaction.atomic
def knowledge_base_create(*, account: Account, name: str, description: str = "") -> KnowledgeBase:
    """Create a knowledge base for `account`. Raises BadRequest when the name is blank or already
    used by this account, or the account has MAX_BASES_PER_ACCOUNT bases. Locks the account row
    so two concurrent creates cannot both pass the count (PostgreSQL; SQLite serialises writes)."""
    name = _clean(name).strip()
    if not name:
        raise _field_error("name", "The name must not be blank.")
    Account.objects.select_for_update().filter(pk=account.pk).first()
    if KnowledgeBase.objects.filter(account=account).count() >= MAX_BASES_PER_ACCOUNT:
        raise BadRequest(
            f"This account already has {MAX_BASES_PER_ACCOUNT} knowledge bases, the most it may "
            "have. Delete one to create another.",
            details={"limit": MAX_BASES_PER_ACCOUNT},
        )
    try:
        with transaction.atomic():
            return KnowledgeBase.objects.create(
                public_id=f"kb_{secrets.token_urlsafe(16)}",
                account=account,
                name=name,
                description=_clean(description).strip(),
            )
    except IntegrityError:
        raise _field_error(
            "name", f"This account already has a knowledge base named {name!r}."
        ) from None


def knowledge_base_delete(*, knowledge_base: KnowledgeBase) -> None:
    """Delete the base and all its documents. The caller has checked ownership (selectors)."""
    knowledge_base.delete()


@transaction.atomic
def document_add(
    *,
    knowledge_base: KnowledgeBase,
    content: str,
    content_type: str = "text",
    title: str = "",
) -> KnowledgeDocument:
    """Extract the plain text of `content` (text, markdown or HTML; scripts and styles dropped),
    cut it into overlapping passages and store the document. Raises PayloadTooLarge over
    MAX_DOCUMENT_BYTES, BadRequest for an unknown content type, no text, or a base that is full
    (MAX_DOCUMENTS_PER_BASE documents or MAX_BASE_CHARS characters). Locks the base row so the
    limits hold under concurrent adds. The caller has checked ownership."""
    kind = normalise_content_type(content_type)
    if kind not in CONTENT_TYPES:
        raise _field_error(
            "content_type", f"content_type must be one of {', '.join(CONTENT_TYPES)}."
        )
    content = _clean(content)
    size = len(content.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"The document is {size} bytes; a document may have at most {MAX_DOCUMENT_BYTES} "
            "bytes. Split it into several documents.",
            details={"limit": MAX_DOCUMENT_BYTES, "size": size},
        )
    base = KnowledgeBase.objects.select_for_update().get(pk=knowledge_base.pk)
    documents = KnowledgeDocument.objects.filter(knowledge_base=base)
    if documents.count() >= MAX_DOCUMENTS_PER_BASE:
        raise BadRequest(
            f"This knowledge base already has {MAX_DOCUMENTS_PER_BASE} documents, the most it "
            "may have. Delete one or use another knowledge base.",
            details={"limit": MAX_DOCUMENTS_PER_BASE},
        )
    text, found_title = extract_text(content, kind)
    if not text.strip():
        raise _field_error("content", f"The {kind} content has no text to index.")
    used = documents.aggregate(total=Sum("char_count"))["total"] or 0
    if used + len(text) > MAX_BASE_CHARS:
        raise BadRequest(
            f"This knowledge base holds {used} characters of text; adding {len(text)} more "
            f"would pass its limit of {MAX_BASE_CHARS}. Use another knowledge base.",
            details={"limit": MAX_BASE_CHARS, "used": used, "size": len(text)},
        )
    chosen_title = " ".join(_clean(title).split()) or found_title or fallback_title(text)
    chunks = chunk_text(text)
    document = KnowledgeDocument.objects.create(
        public_id=f"doc_{secrets.token_urlsafe(16)}",
        knowledge_base=base,
        title=trim_text(chosen_title, MAX_TITLE_CHARS),
        content_type=kind,
        source=content,
        text=text,
        chunks=chunks,
        char_count=len(text),
        chunk_count=len(chunks),
    )
    KnowledgeBase.objects.filter(pk=base.pk).update(updated_at=timezone.now())
    return document


@transaction.atomic
def document_delete(*, document: KnowledgeDocument) -> None:
    """Delete the document and touch its base's updated_at. The caller has checked ownership."""
    base_id = document.knowledge_base_id
    document.delete()
    KnowledgeBase.objects.filter(pk=base_id).update(updated_at=timezone.now())
