"""Console pages of the services app."""

from django.urls import path

from services.console.views import catalogue, home, knowledge, playground, usage

urlpatterns = [
    path("", home.home, name="home"),
    path("services/", catalogue.catalogue, name="catalogue"),
    path("services/<str:service_id>/", catalogue.service_page, name="service-page"),
    path("playground/", playground.playground, name="playground"),
    path("playground/run/", playground.playground_run, name="playground-run"),
    path("playground/runs/<str:public_id>/", playground.run_status, name="playground-run-status"),
    path("knowledge/", knowledge.knowledge_bases, name="knowledge-bases"),
    path("knowledge/<str:kb_id>/", knowledge.knowledge_base, name="knowledge-base"),
    path(
        "knowledge/<str:kb_id>/delete/",
        knowledge.knowledge_base_delete,
        name="knowledge-base-delete",
    ),
    path(
        "knowledge/<str:kb_id>/documents/<str:doc_id>/delete/",
        knowledge.knowledge_document_delete,
        name="knowledge-document-delete",
    ),
    path("usage/", usage.usage, name="usage"),
    path("usage/export.csv", usage.usage_export, name="usage-export"),
]
