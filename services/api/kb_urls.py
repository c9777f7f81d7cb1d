"""Routes of /api/v1/knowledge-bases… (included at the root of services/api/urls.py)."""

from django.urls import path

from services.api import kb_views

urlpatterns = [
    path("knowledge-bases", kb_views.KnowledgeBasesApi.as_view(), name="knowledge-base-list"),
    path(
        "knowledge-bases/<str:kb_id>",
        kb_views.KnowledgeBaseDetailApi.as_view(),
        name="knowledge-base-detail",
    ),
    path(
        "knowledge-bases/<str:kb_id>/documents",
        kb_views.KnowledgeDocumentsApi.as_view(),
        name="knowledge-document-list",
    ),
    path(
        "knowledge-bases/<str:kb_id>/documents/<str:doc_id>",
        kb_views.KnowledgeDocumentDetailApi.as_view(),
        name="knowledge-document-detail",
    ),
]
