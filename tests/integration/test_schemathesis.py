"""schemathesis against a live server: every operation of the OpenAPI document, all phases
(examples, coverage, fuzzing; then stateful, following the declared links), every check (no
server error, only documented statuses, responses and requests as the document says, links that
work). Settings and the few deliberate exceptions, each with its reason: schemathesis.toml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.models import KnowledgeBase
from tests.integration.live import LiveEnv, LiveFactory, LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
DOCUMENT_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# The stateful phase: how many scenarios, and how many calls each may chain.
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 6


@pytest.fixture(scope="module")
def fuzzed_stack(
    live_factory: LiveFactory, live_env: LiveEnv, tmp_path_factory: pytest.TempPathFactory
) -> LiveStack:
    """A server of its own, on an embedded broker, so the hundreds of processes the run queues
    never reach the worker the other integration tests share. Fuzzed URLs must not reach
    loopback services; failed authentications are tested, not throttled."""
    var_dir = tmp_path_factory.mktemp("schemathesis-var")
    env = live_env.child_env(
        var_dir,
        CELERY_BROKER_URL="embedded://",
        # Executes are accepted without a live worker: the run follows execute → poll links.
        BREACT_REQUIRE_WORKER="0",
        BREACT_EXTRA_SERVICE_MODULES="",
        BREACT_WEBSCRAPER_ALLOW_LOOPBACK="0",
        BREACT_AUTH_FAILURE_RATE_LIMIT="100000/m",
        BREACT_DEFAULT_RATE_LIMIT="100000/m",
        BREACT_POLL_RATE_LIMIT="100000/m",
    )
    # No worker: the processes stay queued. A worker would write to the database while the
    # test database is flushed between tests (deadlock), and nothing here waits for a result.
    return live_factory.stack("schemathesis", env, var_dir, with_worker=False)


def openapi_document() -> dict[str, Any]:
    """The document the server serves at /api/v1/schema, built here at collection time: the
    pytest plugin's fixture loader (schemathesis.pytest.from_fixture) does not run on pytest 9.
    test_the_live_server_serves_this_document checks that it is the one served."""
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(
    openapi_document(), config=schemathesis.Config.from_path(CONFIG)
)


@pytest.fixture
def fuzz_key(make_key: Any) -> Any:
    """The key of an account that never runs short."""
    return make_key(credits=10_000_000, rate_limit="100000/m")


@pytest.fixture
def call_kwargs(fuzzed_stack: LiveStack, fuzz_key: Any) -> dict[str, Any]:
    """Where the calls go, with the key. Passed to every call and every validation, so the
    `ignored_auth` check knows the key is the run's own (and probes each operation without it
    and with a wrong one)."""
    return {"base_url": fuzzed_stack.url, "headers": {"x-api-key": fuzz_key.raw}, "timeout": 30}


def test_the_live_server_serves_this_document(fuzzed_stack: LiveStack) -> None:
    served = httpx.get(f"{fuzzed_stack.url}/api/v1/schema?format=json", timeout=30)

    assert served.status_code == 200
    assert served.json() == schema.raw_schema


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    database=None,  # the same cases on every run: the seed in schemathesis.toml decides
    # The key is made once per test and is the same for every generated case (on purpose).
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_every_operation_conforms_to_the_document(case: Any, call_kwargs: dict[str, Any]) -> None:
    case.call_and_validate(**call_kwargs)


def test_calls_without_a_valid_key_get_a_documented_401(call_kwargs: dict[str, Any]) -> None:
    """Every operation but health (and its probes), without a key and with a wrong one: 401 in
    the envelope, as the document says. (The `ignored_auth` check sends such probes but only
    reads the status.)"""
    probed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label.startswith("GET /api/v1/health"):  # health and its probes
            continue
        # Any id will do: authentication comes before the lookup.
        path_parameters = {p.name: "x" for p in operation.path_parameters}
        for headers in ({}, {"x-api-key": "brk_" + "0" * 40}):
            case = operation.Case(path_parameters=path_parameters)
            response = case.call(base_url=call_kwargs["base_url"], headers=headers, timeout=30)
            assert response.status_code == 401, case.as_curl_command()
            case.validate_response(response, checks=DOCUMENT_CHECKS)
            probed += 1
    assert probed >= 2 * 25


def test_linked_calls_conform_to_the_document(call_kwargs: dict[str, Any], fuzz_key: Any) -> None:
    """Execute → poll, knowledge base → documents → document, create → delete → gone. Each
    scenario's steps depend on the server's answers (the links): failures are collected as found
    and reported together rather than shrunk."""
    headers = call_kwargs["headers"]
    failures: list[str] = []
    called: list[tuple[str, int]] = []

    # The webhook operations and the health probes have no links: left out here (the fuzzing
    # test covers them), so the scenarios stay the chains of linked calls they were.
    linked = schema.exclude(path_regex=r"^/api/v1/(webhooks|health/)")

    class LinkedCalls(linked.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return call_kwargs

        def teardown(self) -> None:
            # Every scenario starts from the same state (no knowledge bases), so the same
            # choices meet the same answers: hypothesis requires it of its data generation.
            KnowledgeBase.objects.filter(account=fuzz_key.account).delete()

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            called.append((case.operation.label, response.status_code))
            try:
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    headers=headers,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except Exception as exc:  # schemathesis's FailureGroup: one or more checks failed
                failures.append(f"{case.operation.label}\n{exc}\n{case.as_curl_command()}")

    LinkedCalls.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,  # a fixed seed
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )

    assert not failures, "\n\n".join(failures)
    # The declared links were followed: each target was reached with what its source gave.
    reached = {label for label, status in called if status < 400}
    print(f"{len(called)} linked calls; reached: {sorted(reached)}")
    assert {
        "GET /api/v1/services/result/{process_id}",
        "GET /api/v1/knowledge-bases/{kb_id}",
        "POST /api/v1/knowledge-bases/{kb_id}/documents",
    } <= reached
