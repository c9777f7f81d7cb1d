"""REST API v1 views of knowledge bases and their documents (free; rate-limited as reads)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiKey
from breact.dates import iso
from breact.errors import Forbidden
from breact.params import NOT_BLANK_PATTERN
from services.api import serializers as out
from services.api.parsing import json_object_from
from services.api.resources import (
    ERRORS,
    PAGE_PARAMETERS,
    DeletedSerializer,
    StrictCharField,
    newest_first_page,
    page_serializer,
    validated,
)
from services.api.views import KeyedApiView
from services.engines.local_knowledge import CONTENT_TYPE_ALIASES, CONTENT_TYPES
from services.knowledge import actions as kb_actions
from services.knowledge import selectors as kb_selectors
from services.models import KnowledgeBase, KnowledgeDocument

KNOWLEDGE_SERVICE = "knowledge_service"
# What `content_type` may be when adding a document: the names, and their MIME and short forms.
CONTENT_TYPE_INPUTS = (*CONTENT_TYPES, *CONTENT_TYPE_ALIASES)


# --- input ---------------------------------------------------------------------------------------


NOT_BLANK = RegexValidator(NOT_BLANK_PATTERN, message="This field may not be blank.")


class KnowledgeBaseCreateSerializer(serializers.Serializer):
    name = StrictCharField(
        max_length=kb_actions.MAX_NAME_CHARS, min_length=1, validators=[NOT_BLANK]
    )
    description = StrictCharField(
        max_length=kb_actions.MAX_DESCRIPTION_CHARS, allow_blank=True, required=False, default=""
    )


class KnowledgeDocumentAddSerializer(serializers.Serializer):
    title = StrictCharField(
        max_length=kb_actions.MAX_TITLE_CHARS,
        allow_blank=True,
        required=False,
        default="",
        help_text="Defaults to the HTML <title>, the first heading, or the first line.",
    )
    content = StrictCharField(
        trim_whitespace=False,
        help_text=f"The document, at most {kb_actions.MAX_DOCUMENT_BYTES} bytes of UTF-8.",
    )
    content_type = serializers.ChoiceField(
        choices=CONTENT_TYPE_INPUTS,
        default="text",
        help_text=f"One of {', '.join(CONTENT_TYPES)}; MIME names and short forms are accepted "
        f"too ({', '.join(CONTENT_TYPE_ALIASES)}).",
    )


# --- output ----------------------------------------------------------------------------------


class KnowledgeBaseSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="kb_…")
    name = serializers.CharField()
    description = serializers.CharField()
    document_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class KnowledgeDocumentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="doc_…")
    knowledge_base = serializers.CharField(help_text="The id of its knowledge base.")
    title = serializers.CharField()
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES)
    char_count = serializers.IntegerField(help_text="Characters of the extracted text.")
    chunk_count = serializers.IntegerField(help_text="Passages the text was cut into.")
    created_at = serializers.DateTimeField()


class KnowledgeDocumentDetailSerializer(KnowledgeDocumentSerializer):
    content = serializers.CharField(help_text="The content as sent.")
    text = serializers.CharField(help_text="The plain text extracted from it.")


KnowledgeBasePageSerializer = page_serializer("KnowledgeBasePage", KnowledgeBaseSerializer)
KnowledgeDocumentPageSerializer = page_serializer(
    "KnowledgeDocumentPage", KnowledgeDocumentSerializer
)


def base_body(base: KnowledgeBase) -> dict[str, Any]:
    return {
        "id": base.public_id,
        "name": base.name,
        "description": base.description,
        "document_count": getattr(base, "document_count", 0),
        "created_at": iso(base.created_at),
        "updated_at": iso(base.updated_at),
    }


def document_body(document: KnowledgeDocument, *, full: bool = False) -> dict[str, Any]:
    body = {
        "id": document.public_id,
        "knowledge_base": document.knowledge_base.public_id,
        "title": document.title,
        "content_type": document.content_type,
        "char_count": document.char_count,
        "chunk_count": document.chunk_count,
        "created_at": iso(document.created_at),
    }
    if full:
        body["content"] = document.source
        body["text"] = document.text
    return body


# --- views ---------------------------------------------------------------------------------------


class KnowledgeApiView(KeyedApiView):
    """A knowledge-base view: the key must be allowed the knowledge_service."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.key.allows_service(KNOWLEDGE_SERVICE):
            raise Forbidden(f"This API key may not use the {KNOWLEDGE_SERVICE!r} service.")

    @property
    def key(self) -> ApiKey:
        assert isinstance(self.request.auth, ApiKey)
        return self.request.auth

    def page(self, queryset: Any, body: Any) -> Response:
        return newest_first_page(self, queryset, body)


class KnowledgeBasesApi(KnowledgeApiView):
    @extend_schema(
        operation_id="knowledge_bases_list",
        summary="List knowledge bases",
        description="The account's knowledge bases, newest first, a page at a time.",
        parameters=PAGE_PARAMETERS,
        responses={200: KnowledgeBasePageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return self.page(kb_selectors.knowledge_base_list(account=self.key.account), base_body)

    @extend_schema(
        operation_id="knowledge_bases_create",
        summary="Create a knowledge base",
        description=f"A name unique in the account; at most {kb_actions.MAX_BASES_PER_ACCOUNT} "
        "bases per account. Free.",
        request=KnowledgeBaseCreateSerializer,
        responses={201: KnowledgeBaseSerializer, 413: out.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(KnowledgeBaseCreateSerializer, json_object_from(request._request))
        base = kb_actions.knowledge_base_create(
            account=self.key.account, name=data["name"], description=data["description"]
        )
        return Response(base_body(base), status=201)


class KnowledgeBaseDetailApi(KnowledgeApiView):
    @extend_schema(
        operation_id="knowledge_bases_retrieve",
        summary="Get a knowledge base",
        responses={200: KnowledgeBaseSerializer, **ERRORS},
    )
    def get(self, request: Request, kb_id: str) -> Response:
        return Response(
            base_body(kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id))
        )

    @extend_schema(
        operation_id="knowledge_bases_delete",
        summary="Delete a knowledge base and its documents",
        responses={200: DeletedSerializer, **ERRORS},
    )
    def delete(self, request: Request, kb_id: str) -> Response:
        base = kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id)
        kb_actions.knowledge_base_delete(knowledge_base=base)
        return Response({"id": kb_id, "deleted": True})


class KnowledgeDocumentsApi(KnowledgeApiView):
    @extend_schema(
        operation_id="knowledge_documents_list",
        summary="List the documents of a knowledge base",
        description="Newest first, a page at a time, without their text.",
        parameters=PAGE_PARAMETERS,
        responses={200: KnowledgeDocumentPageSerializer, **ERRORS},
    )
    def get(self, request: Request, kb_id: str) -> Response:
        base = kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id)
        return self.page(kb_selectors.document_list(knowledge_base=base), document_body)

    @extend_schema(
        operation_id="knowledge_documents_create",
        summary="Add a document to a knowledge base",
        description="Plain text, markdown or HTML (scripts and styles are dropped). The text is "
        "extracted and cut into overlapping passages for retrieval. At most "
        f"{kb_actions.MAX_DOCUMENT_BYTES} bytes per document (413 above), "
        f"{kb_actions.MAX_DOCUMENTS_PER_BASE} documents and {kb_actions.MAX_BASE_CHARS} "
        "characters of text per base. Free.",
        request=KnowledgeDocumentAddSerializer,
        responses={201: KnowledgeDocumentDetailSerializer, 413: out.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, kb_id: str) -> Response:
        base = kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id)
        data = validated(KnowledgeDocumentAddSerializer, json_object_from(request._request))
        document = kb_actions.document_add(
            knowledge_base=base,
            title=data["title"],
            content=data["content"],
            content_type=data["content_type"],
        )
        return Response(document_body(document, full=True), status=201)


class KnowledgeDocumentDetailApi(KnowledgeApiView):
    @extend_schema(
        operation_id="knowledge_documents_retrieve",
        summary="Get a document with its content and extracted text",
        responses={200: KnowledgeDocumentDetailSerializer, **ERRORS},
    )
    def get(self, request: Request, kb_id: str, doc_id: str) -> Response:
        base = kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id)
        document = kb_selectors.document_get(knowledge_base=base, doc_id=doc_id)
        return Response(document_body(document, full=True))

    @extend_schema(
        operation_id="knowledge_documents_delete",
        summary="Delete a document",
        responses={200: DeletedSerializer, **ERRORS},
    )
    def delete(self, request: Request, kb_id: str, doc_id: str) -> Response:
        base = kb_selectors.knowledge_base_get(account=self.key.account, kb_id=kb_id)
        document = kb_selectors.document_get(knowledge_base=base, doc_id=doc_id)
        kb_actions.document_delete(document=document)
        return Response({"id": doc_id, "deleted": True})
