"""Knowledge bases in the console: list and create, upload documents (text, Markdown, HTML
files), delete; and the knowledge_service playground form picks bases from a list. Every write
goes through services.knowledge.actions and every read through services.knowledge.selectors,
as in the API."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.console.actions import request_account
from accounts.models import Account
from accounts.orgs.access import org_permission
from breact.errors import BadRequest, NotFound, PayloadTooLarge
from breact.http import HtmxHttpRequest
from services.console.forms import CHOICES, ParamsForm
from services.knowledge import actions as kb_actions
from services.knowledge import selectors as kb_selectors
from services.models import KnowledgeBase

# File name endings the upload takes, and the content type each is read as.
FILE_TYPES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
ACCEPT = ",".join(FILE_TYPES) + ",text/plain,text/markdown,text/html"
MAX_FILES_PER_UPLOAD = 10
KNOWLEDGE_SERVICE = "knowledge_service"
KB_FIELD = "context.knowledgeBases"


def _account(request: HttpRequest) -> Account:
    return request_account(request)


def _base(account: Account, kb_id: str) -> KnowledgeBase:
    try:
        return kb_selectors.knowledge_base_get(account=account, kb_id=kb_id)
    except NotFound:
        raise Http404("No such knowledge base.") from None


class KnowledgeBaseForm(forms.Form):
    name = forms.CharField(
        max_length=kb_actions.MAX_NAME_CHARS, help_text="Unique in your account."
    )
    description = forms.CharField(
        max_length=kb_actions.MAX_DESCRIPTION_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what the documents are about.",
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(item, initial) for item in data]
        result = single(data or None, initial)  # raises "required" when nothing was sent
        return [result] if result else []


class DocumentUploadForm(forms.Form):
    documents = MultipleFileField(
        label="Files",
        help_text=f"Text (.txt), Markdown (.md) or HTML (.html) files in UTF-8, at most "
        f"{kb_actions.MAX_DOCUMENT_BYTES // 1000} kB each, up to {MAX_FILES_PER_UPLOAD} at once.",
    )
    title = forms.CharField(
        max_length=kb_actions.MAX_TITLE_CHARS,
        required=False,
        help_text="Optional, for a single file: else the HTML title, the first heading or the "
        "first line.",
    )

    def clean_documents(self) -> list[tuple[str, str, str]]:
        """(file name, content type, text) of each file; every problem is named by file."""
        files: list[UploadedFile] = self.cleaned_data["documents"]
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(f"Upload at most {MAX_FILES_PER_UPLOAD} files at once.")
        out, problems = [], []
        for upload in files:
            name = PurePath(upload.name or "file").name
            kind = FILE_TYPES.get(PurePath(name).suffix.lower())
            if kind is None:
                problems.append(f"{name}: only .txt, .md and .html files can be added.")
            elif (upload.size or 0) > kb_actions.MAX_DOCUMENT_BYTES:
                problems.append(
                    f"{name}: {upload.size} bytes; a document may have at most "
                    f"{kb_actions.MAX_DOCUMENT_BYTES} bytes. Split it into several files."
                )
            else:
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    problems.append(f"{name}: not UTF-8 text. Save it as UTF-8 and try again.")
                else:
                    out.append((name, kind, text))
        if problems:
            raise forms.ValidationError(problems)
        return out


def _list_page(
    request: HttpRequest, account: Account, form: KnowledgeBaseForm, status: int = 200
) -> HttpResponse:
    context = {
        "bases": kb_selectors.knowledge_base_list(account=account),
        "form": form,
        "max_bases": kb_actions.MAX_BASES_PER_ACCOUNT,
    }
    return render(request, "services/knowledge_bases.html", context, status=status)


@org_permission("knowledge.view", "knowledge.manage")
@require_http_methods(["GET", "POST"])
def knowledge_bases(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the account's knowledge bases and a form to create one. POST: create it
    (kb_actions.knowledge_base_create) and go to its page; a refusal is a form error."""
    account = _account(request)
    form = KnowledgeBaseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            base = kb_actions.knowledge_base_create(
                account=account,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except BadRequest as exc:
            field = "name" if "name" in exc.message.lower() else None
            form.add_error(field, exc.message)
        else:
            messages.success(request, f"Created “{base.name}”. Add documents to it below.")
            return redirect("knowledge-base", kb_id=base.public_id)
    return _list_page(request, account, form)


def _detail_page(
    request: HttpRequest, base: KnowledgeBase, form: DocumentUploadForm
) -> HttpResponse:
    context = {
        "base": base,
        "documents": kb_selectors.document_list(knowledge_base=base),
        "form": form,
        "accept": ACCEPT,
        "max_documents": kb_actions.MAX_DOCUMENTS_PER_BASE,
        "kb_ask_url": reverse("playground")
        + f"?service={KNOWLEDGE_SERVICE}&endpoint=process&kb={base.public_id}",
    }
    return render(request, "services/knowledge_base.html", context)


@org_permission("knowledge.view", "knowledge.manage")
@require_http_methods(["GET", "POST"])
def knowledge_base(request: HtmxHttpRequest, kb_id: str) -> HttpResponse:
    """GET: one base of the account with its documents and the upload form. POST: add each
    uploaded file (kb_actions.document_add); files added before a refused one stay, and the
    refusal is a form error naming the file. Another account's base answers 404."""
    account = _account(request)
    base = _base(account, kb_id)
    if request.method != "POST":
        return _detail_page(request, base, DocumentUploadForm())
    form = DocumentUploadForm(request.POST, request.FILES)
    if form.is_valid():
        files = form.cleaned_data["documents"]
        title = form.cleaned_data["title"] if len(files) == 1 else ""
        added = []
        for name, kind, text in files:
            try:
                document = kb_actions.document_add(
                    knowledge_base=base, content=text, content_type=kind, title=title
                )
            except (BadRequest, PayloadTooLarge) as exc:
                form.add_error("documents", f"{name}: {exc.message}")
                break
            added.append(document.title)
        if added:
            messages.success(
                request,
                f"Added {len(added)} document{'s' if len(added) != 1 else ''}: "
                + ", ".join(f"“{t}”" for t in added)
                + ".",
            )
        if not form.errors:
            return redirect("knowledge-base", kb_id=base.public_id)
        base = _base(account, kb_id)  # the document count changed
    return _detail_page(request, base, form)


@org_permission("knowledge.manage")
@require_http_methods(["GET", "POST"])
def knowledge_base_delete(request: HtmxHttpRequest, kb_id: str) -> HttpResponse:
    """GET: ask to confirm. POST: delete the base and its documents."""
    account = _account(request)
    base = _base(account, kb_id)
    if request.method == "POST":
        kb_actions.knowledge_base_delete(knowledge_base=base)
        messages.success(request, f"Deleted “{base.name}” and its documents.")
        return redirect("knowledge-bases")
    return render(request, "services/knowledge_base_delete.html", {"base": base})


@org_permission("knowledge.manage")
@require_http_methods(["GET", "POST"])
def knowledge_document_delete(request: HtmxHttpRequest, kb_id: str, doc_id: str) -> HttpResponse:
    """POST: delete one document of one of the account's bases. GET (no page of its own)
    leads back to the base. Another account's base or document answers 404 either way."""
    account = _account(request)
    base = _base(account, kb_id)
    try:
        document = kb_selectors.document_get(knowledge_base=base, doc_id=doc_id)
    except NotFound:
        raise Http404("No such document.") from None
    if request.method != "POST":
        return redirect("knowledge-base", kb_id=base.public_id)
    kb_actions.document_delete(document=document)
    messages.success(request, f"Deleted “{document.title}”.")
    return redirect("knowledge-base", kb_id=base.public_id)


# --- the playground's knowledge_service form -------------------------------------------------


def knowledge_base_choices(
    form: ParamsForm, *, account: Account, service_id: str, preselect: str = ""
) -> None:
    """On the knowledge_service form, turn `context.knowledgeBases` (one id per line) into a
    checkbox per knowledge base of the account, labelled with its name; `preselect` ticks one
    (the base page's "ask" link). Without bases the field stays as it is."""
    if service_id != KNOWLEDGE_SERVICE:
        return
    try:
        field = form[KB_FIELD]
    except KeyError:
        return
    bases = list(kb_selectors.knowledge_base_list(account=account))
    if not bases:
        return
    shown = field.value.split("\n") if isinstance(field.value, str) else list(field.value)
    items = field.schema.get("items", {})
    field.kind = CHOICES
    field.schema = {**field.schema, "items": {**items, "enum": [b.public_id for b in bases]}}
    field.labels = {}
    for base in bases:
        count = int(getattr(base, "document_count", 0))
        field.labels[base.public_id] = f"{base.name} ({count} document{'s' if count != 1 else ''})"
    if form.data is not None:
        field.show(form.data)
        return
    chosen = [value.strip() for value in shown if value.strip() in field.labels]
    if preselect in field.labels and preselect not in chosen:
        chosen.append(preselect)
    field.value = chosen
