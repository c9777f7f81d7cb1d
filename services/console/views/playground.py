"""The playground: run an endpoint from a generated form, watch it, copy the call."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from accounts.console.actions import request_account
from accounts.keys.actions import console_key_for
from accounts.ledger.selectors import account_balance
from accounts.models import Account
from accounts.orgs.access import org_permission
from breact.errors import (
    BadRequest,
    BReactError,
    Forbidden,
    IdempotencyMismatch,
    InsufficientCredits,
    NotFound,
    PayloadTooLarge,
    RateLimitExceeded,
    ServiceNotFound,
)
from breact.http import HtmxHttpRequest
from services.api.parsing import json_problem
from services.api.ratelimit import EXECUTE, rate_limit_hit
from services.catalogue.registry import EndpointDefinition, ServiceDefinition, find_service
from services.catalogue.selectors import ResolvedEndpoint, endpoint_resolve, service_catalogue
from services.console import snippets
from services.console.forms import ParamsForm, params_from_json
from services.console.results import result_context
from services.console.run_once import TOKEN_FIELD, call_start_once, run_token_new
from services.console.views.catalogue import Catalogue, api_base_url
from services.console.views.knowledge import knowledge_base_choices
from services.execution.actions import ExecuteOutcome
from services.execution.selectors import console_runs_recent, process_for_owner
from services.models import Endpoint, Process
from services.usage.actions import usage_log_record
from services.usage.figures import process_failed

FORM = "form"
RAW_JSON = "json"
RECENT_RUNS = 10


@dataclass(frozen=True)
class Selection:
    service: ServiceDefinition
    endpoint: EndpointDefinition
    price: int
    endpoints: list[tuple[EndpointDefinition, Endpoint]]


def _select(entries: Catalogue, service_id: str, endpoint: str) -> Selection | None:
    """The chosen service (id or alias) and endpoint among the enabled ones; the first service
    or endpoint when the choice is missing or unknown (e.g. the service changed)."""
    if not entries:
        return None
    definition = find_service(service_id) if service_id else None
    service, endpoints = next(
        (entry for entry in entries if definition and entry[0].id == definition.id), entries[0]
    )
    chosen, row = next(((e, r) for e, r in endpoints if e.name == endpoint), endpoints[0])
    return Selection(service=service, endpoint=chosen, price=row.price, endpoints=endpoints)


def _page(
    request: HtmxHttpRequest,
    *,
    account: Account,
    entries: Catalogue,
    selection: Selection | None,
    form: ParamsForm | None = None,
    mode: str = FORM,
    raw_json: str = "",
    raw_errors: list[str] | None = None,
    run_error: BReactError | None = None,
) -> HttpResponse:
    if form is not None and selection is not None:
        kb = request.GET.get("kb", "")
        knowledge_base_choices(form, account=account, service_id=selection.service.id, preselect=kb)
    context: dict[str, Any] = {
        "entries": entries,
        "selection": selection,
        "form": form,
        "mode": mode,
        "raw_json": raw_json,
        "raw_errors": raw_errors or [],
        "run_error": _run_error_message(run_error) if run_error else "",
        "needs_credits": isinstance(run_error, InsufficientCredits),
        "balance": account_balance(account=account),
        "result_ttl": settings.BREACT_RESULT_TTL,
        "run_token": run_token_new(),
    }
    if request.htmx:
        response = render(request, "services/playground.html#playground-region", context)
        if request.method == "GET" and selection is not None:
            # A changed picker keeps its choice in the address bar (not a run's POST).
            chosen = {"service": selection.service.id, "endpoint": selection.endpoint.name}
            query = urlencode(chosen)
            response = push_url(response, f"{reverse('playground')}?{query}")
        return response
    context["recent"] = console_runs_recent(account=account, limit=RECENT_RUNS)
    return render(request, "services/playground.html", context)


def _run_error_message(error: BReactError) -> str:
    """A form-level sentence for an error of the execute path; nothing was charged."""
    details = error.details or {}
    if isinstance(error, InsufficientCredits):
        return (
            f"This run costs {error.required} credit{'s' if error.required != 1 else ''} and "
            f"your balance is {error.balance}. Top up to run it; nothing was charged."
        )
    if isinstance(error, IdempotencyMismatch):
        return (
            "This form was already used for a run with other parameters; nothing was charged. "
            "The form is ready again: run it once more."
        )
    if isinstance(error, RateLimitExceeded):
        return (
            f"Too many runs: the limit is {details.get('limit')} per {details.get('window')} s. "
            f"Try again in {details.get('reset')} s; nothing was charged."
        )
    return error.message


@org_permission("playground.use")
@require_GET
def playground(request: HtmxHttpRequest) -> HttpResponse:
    """Pick a service and endpoint (`service`, `endpoint`), get its form prefilled from the
    endpoint's example — or from an earlier run of the account (`from`). An htmx request (the
    pickers changed) gets the picker and form region only."""
    account = request_account(request)
    entries = service_catalogue()
    service_id = request.GET.get("service", "")
    endpoint = request.GET.get("endpoint", "")
    earlier: Process | None = None
    if request.GET.get("from"):
        try:
            earlier = process_for_owner(account=account, public_id=request.GET["from"])
        except NotFound:
            raise Http404("No such run.") from None
        service_id, endpoint = earlier.service_id, earlier.endpoint
    selection = _select(entries, service_id, endpoint)
    if selection is None:
        return _page(request, account=account, entries=entries, selection=None)
    initial = selection.endpoint.example
    if (
        earlier is not None
        and earlier.service_id == selection.service.id
        and earlier.endpoint == selection.endpoint.name
    ):
        initial = earlier.params
    return _page(
        request,
        account=account,
        entries=entries,
        selection=selection,
        form=ParamsForm(selection.endpoint.input_schema, initial=initial),
        raw_json=json.dumps(initial, indent=2, ensure_ascii=False),
    )


def _check_size(params: dict[str, Any]) -> None:
    """The API's body limits, applied to the parameters the page built."""
    problem = json_problem(params, settings.BREACT_MAX_JSON_DEPTH)
    if problem:
        raise BadRequest(
            f"The parameters cannot be accepted: {problem}.",
            details={"errors": [{"path": "$", "message": problem}]},
        )
    limit = settings.BREACT_MAX_BODY_BYTES
    if len(json.dumps(params).encode()) > limit:
        raise PayloadTooLarge(f"The parameters are over the limit of {limit} bytes.")


def _start(
    request: HttpRequest, *, account: Account, resolved: ResolvedEndpoint, params: dict[str, Any]
) -> ExecuteOutcome:
    """The API's execute path with the account's console key (whose secret nobody holds):
    rate limit, then call_start (validate, charge, create the process, queue it). The
    attempt is logged like an API request, so it shows in usage. Raises the path's
    BReactErrors; an error charges nothing."""
    if not account.is_active:
        raise Forbidden("This account is disabled. Contact support to enable it.")
    started = time.perf_counter()
    console_key = console_key_for(account=account)
    usage: dict[str, Any] = {"status_code": 202, "error_code": "", "process_id": "", "credits": 0}
    try:
        _check_size(params)
        rate_limit_hit(api_key=console_key, group=EXECUTE)
        outcome = call_start_once(
            api_key=console_key,
            resolved=resolved,
            params=params,
            token=request.POST.get(TOKEN_FIELD, ""),
            request_id=getattr(request, "request_id", ""),
        )
    except BReactError as exc:
        usage.update(status_code=exc.status, error_code=exc.code)
        raise
    else:
        usage.update(
            process_id=outcome.body.get("process_id", ""),
            credits=0 if outcome.replayed else int(outcome.body.get("credits_charged", 0)),
        )
        return outcome
    finally:
        match = request.resolver_match
        usage_log_record(
            direct=True,  # the console shows it next: not through the buffer
            api_key=console_key,
            account_id=account.pk,
            method="POST",
            route=(match.route if match else request.path)[:255],
            service_id=resolved.service.id,
            endpoint=resolved.endpoint.name,
            duration_ms=int((time.perf_counter() - started) * 1000),
            request_id=getattr(request, "request_id", ""),
            **usage,
        )


@org_permission("playground.use")
@require_POST
def playground_run(request: HtmxHttpRequest) -> HttpResponse:
    """Run the endpoint with the submitted parameters — the form's (`mode=form`) or the raw
    JSON editor's (`mode=json`) — through the API's execute path. Success redirects to the
    run's status page; every error is shown on the form (status 200) and charges nothing."""
    account = request_account(request)
    entries = service_catalogue()
    mode = RAW_JSON if request.POST.get("mode") == RAW_JSON else FORM
    raw_json = request.POST.get("raw_json", "").replace("\r\n", "\n")
    try:
        resolved = endpoint_resolve(
            service_id=request.POST.get("service", ""),
            endpoint=request.POST.get("endpoint", ""),
        )
    except ServiceNotFound as exc:
        selection = _select(entries, "", "")
        return _page(
            request,
            account=account,
            entries=entries,
            selection=selection,
            form=ParamsForm(selection.endpoint.input_schema, initial=selection.endpoint.example)
            if selection
            else None,
            raw_json=json.dumps(selection.endpoint.example, indent=2) if selection else "",
            run_error=exc,
        )
    selection = _select(entries, resolved.service.id, resolved.endpoint.name)
    form = ParamsForm(resolved.endpoint.input_schema, data=request.POST)
    knowledge_base_choices(form, account=account, service_id=resolved.service.id)
    raw_errors: list[str] = []
    params: dict[str, Any] | None = None
    if mode == RAW_JSON:
        try:
            params = params_from_json(raw_json)
        except ValueError as exc:
            raw_errors.append(str(exc))
    elif form.is_valid():
        params = form.params
        raw_json = json.dumps(params, indent=2, ensure_ascii=False)
    run_error: BReactError | None = None
    if params is not None:
        try:
            outcome = _start(request, account=account, resolved=resolved, params=params)
        except BadRequest as exc:
            errors = (exc.details or {}).get("errors") or []
            if mode == RAW_JSON:
                raw_errors.extend(f"{e.get('path', '$')}: {e.get('message', '')}" for e in errors)
            else:
                form.add_api_errors(errors)
            if not errors:
                run_error = exc
        except BReactError as exc:
            run_error = exc
        else:
            credits = int(outcome.body.get("credits_charged", 0))
            if outcome.replayed:
                messages.info(
                    request,
                    "This form was already sent: here is its run, charged once "
                    f"({credits} credit{'s' if credits != 1 else ''}).",
                )
            else:
                messages.success(
                    request,
                    f"Run started: {credits} credit{'s' if credits != 1 else ''} charged. "
                    "The result appears below when it is ready.",
                )
            url = reverse("playground-run-status", args=[outcome.body["process_id"]])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _page(
        request,
        account=account,
        entries=entries,
        selection=selection,
        form=form,
        mode=mode,
        raw_json=raw_json,
        raw_errors=raw_errors,
        run_error=run_error,
    )


@org_permission("usage.view")
@require_GET
def run_status(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """One run of the account: live state while pending (the htmx partial polls itself every
    second and stops once finished), then the result, the credits and the code for the call.
    Another account's run answers 404."""
    account = request_account(request)
    try:
        process = process_for_owner(account=account, public_id=public_id)
    except NotFound:
        raise Http404("No such run.") from None
    now = timezone.now()
    finished = process.is_finished
    expired = finished and process.is_expired(now)
    end = process.finished_at if finished and process.finished_at else now
    result = process.result if isinstance(process.result, dict) else None
    context: dict[str, Any] = {
        "process": process,
        "finished": finished,
        "expired": expired,
        "elapsed": max((end - process.created_at).total_seconds(), 0.0),
        "failed": process_failed(process),
        "result_json": json.dumps(result, indent=2, ensure_ascii=False)
        if result is not None and not expired
        else "",
        "expires_in": int((process.expires_at - now).total_seconds())
        if process.expires_at and not expired
        else None,
        "result_ttl": settings.BREACT_RESULT_TTL,
        "endpoint": process.endpoint,
        **(result_context(process.service_id, result) if result and not expired else {}),
    }
    if request.htmx:
        return render(request, "services/playground_run.html#run-status", context)
    base = api_base_url(request)
    call = {"service_id": process.service_id, "endpoint": process.endpoint}
    params = process.params if isinstance(process.params, dict) else {}
    context.update(
        {
            "service_known": find_service(process.service_id) is not None,
            "params_json": json.dumps(params, indent=2, ensure_ascii=False),
            "curl": snippets.curl_snippet(base_url=base, params=params, **call),
            "sdk": snippets.sdk_snippet(base_url=base, params=params, **call),
        }
    )
    return render(request, "services/playground_run.html", context)
