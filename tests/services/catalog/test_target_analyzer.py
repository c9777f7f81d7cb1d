"""The target_analyzer service: completion evidence with negation, dependency order, cycles, the
older analyze_targets endpoint, quality on fixture scenarios, and the model path against a
loopback chat-completions server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accounts.ledger.selectors import account_balance
from services.catalog.target_analyzer import MAX_CONTENT_CHARS, SERVICE
from services.catalogue.registry import ServiceFailure
from services.engines.local_targets import assess, key, resolve

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "target_analyzer"
URL = "/api/v1/services/target_analyzer/{}"


def _target(id_: Any, target: str, done_when: str = "", depends_on: list[Any] | None = None):
    return {"id": id_, "target": target, "done_when": done_when, "depends_on": depends_on or []}


REQUIREMENTS = _target(1, "Document project requirements", "Requirements document is approved")
SCHEMA = _target(2, "Design the database schema", "Schema is reviewed and merged", [1])


def _process(content: str, todo: list[Any], done: list[Any] | None = None, **extra: Any):
    params = {"content": content, "context": {"targets": {"todo": todo, "done": done or []}}}
    params.update(extra)
    return SERVICE.endpoints["process"].handler(params)


def _by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key(t["id"]): t for t in [*result["todo"], *result["done"]]}


def _done_ids(result: dict[str, Any]) -> list[Any]:
    return [t["id"] for t in result["done"]]


# --- through the API ------------------------------------------------------------------------------


def test_process_moves_completed_targets_to_done_with_reasons(run_endpoint, key):
    body = run_endpoint(
        "target_analyzer",
        "process",
        {
            "content": "I finished the requirements document and the client approved it. "
            "The schema is still in review.",
            "context": {
                "targets": {"todo": [REQUIREMENTS, SCHEMA], "done": []},
                "additionalContext": "A web shop project.",
            },
        },
    )

    inner = body["result"]
    assert inner["status"] == "success"
    result = inner["result"]
    assert [t["id"] for t in result["done"]] == [1]
    assert [t["id"] for t in result["todo"]] == [2]
    done = result["done"][0]
    assert done["status"] == "done"
    assert "approved it" in done["reason"]
    assert done["evidence"].startswith("I finished the requirements document")
    assert 0 < done["confidence"] <= 1
    todo = result["todo"][0]
    assert todo["status"] == "in_progress"
    assert "still in review" in todo["reason"]
    assert todo["depends_on"] == [1]  # the given fields are kept
    assert inner["metadata"]["model"] == "local/target-evidence"
    assert inner["metadata"]["completed"] == [1]
    assert account_balance(account=key.account) == 97


@pytest.mark.parametrize("tier", ["standard", "basic"])
def test_analyze_targets_is_the_older_form_of_process(run_endpoint, tier):
    body = run_endpoint(
        "target_analyzer",
        "analyze_targets",
        {
            "text": "Requirements document: done, approved by the client.",
            "targets": {"todo": [REQUIREMENTS, SCHEMA], "done": []},
            "additional_context": "Project kickoff",
            "options": {"tier": tier, "format": "json", "temperature": 0, "max_tokens": 1000},
        },
    )

    assert body["result"]["status"] == "success"
    assert _done_ids(body["result"]["result"]) == [1]


def test_basic_tier_never_calls_the_model(run_endpoint, llm_route):
    body = run_endpoint(
        "target_analyzer",
        "analyze_targets",
        {
            "text": "Requirements are approved.",
            "targets": {"todo": [REQUIREMENTS]},
            "model_id": "mistral-small",
            "options": {"tier": "basic"},
        },
    )

    assert body["result"]["metadata"]["model"] == "local/target-evidence"
    assert body["result"]["metadata"]["requested_model"] == "mistral-small"
    assert llm_route.requests == []


def test_duplicate_ids_are_a_refunded_error(run_endpoint, key):
    body = run_endpoint(
        "target_analyzer",
        "process",
        {
            "content": "All done.",
            "context": {"targets": {"todo": [REQUIREMENTS], "done": [{"id": "1", "target": "x"}]}},
        },
    )

    assert body["result"]["status"] == "error"
    assert "used more than once" in body["result"]["error"]
    assert account_balance(account=key.account) == 100


def _error_paths(response) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "BAD_REQUEST"
    return [e["path"] for e in body["details"]["errors"]]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"context": {"targets": {}}}, "content"),
        ({"content": "x"}, "context"),
        ({"content": "x", "context": {}}, "context.targets"),
        ({"content": "", "context": {"targets": {}}}, "content"),
        ({"content": "x" * (MAX_CONTENT_CHARS + 1), "context": {"targets": {}}}, "content"),
        (
            {"content": "x", "context": {"targets": {"todo": [{"target": "t"}]}}},
            "context.targets.todo[0].id",
        ),
        (
            {"content": "x", "context": {"targets": {"todo": [{"id": 1}]}}},
            "context.targets.todo[0].target",
        ),
        (
            {"content": "x", "context": {"targets": {"todo": [{"id": 1.5, "target": "t"}]}}},
            "context.targets.todo[0].id",
        ),
        (
            {"content": "x", "context": {"targets": {"todo": [_target(1, "t", "", ["a", {}])]}}},
            "context.targets.todo[0].depends_on[1]",
        ),
        ({"content": "x", "context": {"targets": {"doing": []}}}, "context.targets.doing"),
        (
            {"content": "x", "context": {"targets": {}}, "config": {"temperature": 2}},
            "config.temperature",
        ),
    ],
)
def test_invalid_process_parameters_are_refused_before_charging(keyed_client, key, params, path):
    response = keyed_client.post(URL.format("process"), params, format="json")

    assert path in _error_paths(response)
    assert account_balance(account=key.account) == 100


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"targets": {}}, "text"),
        ({"text": "x"}, "targets"),
        ({"text": "x", "targets": {}, "options": {"tier": "premium"}}, "options.tier"),
        ({"text": "x", "targets": {}, "options": {"format": "xml"}}, "options.format"),
    ],
)
def test_invalid_analyze_targets_parameters_are_refused(keyed_client, key, params, path):
    response = keyed_client.post(URL.format("analyze_targets"), params, format="json")

    assert path in _error_paths(response)
    assert account_balance(account=key.account) == 100


# --- evidence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "complete"),
    [
        ("The requirements document is done.", True),
        ("Requirements document approved by the client!", True),
        ("[x] Document project requirements", True),
        ("✅ requirements documented", True),
        ("The requirements document is not done yet.", False),
        ("The requirements document isn't approved.", False),
        ("We haven't documented the requirements.", False),
        ("I'm almost done with the requirements document.", False),
        ("Still working on the requirements document.", False),
        ("I will finish the requirements document tomorrow.", False),
        ("I'm documenting the requirements right now.", False),
        ("[ ] Document project requirements", False),
        ("The invoice is done.", False),
        ("Target 1 is done.", True),
        ("#1 done", True),
    ],
)
def test_completion_needs_matching_unnegated_evidence(content, complete):
    output = _process(content, [REQUIREMENTS])

    assert (_done_ids(output.result) == [1]) is complete


def test_reasons_quote_the_evidence_and_explain_no_evidence():
    output = _process(
        "The weather is nice. Requirements still in progress.", [REQUIREMENTS, SCHEMA]
    )
    targets = _by_id(output.result)

    assert targets["1"]["status"] == "in_progress"
    assert targets["1"]["reason"] == 'Not complete yet: "Requirements still in progress."'
    assert targets["2"]["status"] == "todo"
    assert targets["2"]["reason"].startswith("No evidence of completion")
    assert targets["2"]["evidence"] is None


def test_a_later_statement_overrides_an_earlier_one():
    content = "Mon: the schema is merged.\nTue: we reverted the schema, it is not merged anymore."
    output = _process(content, [_target(1, "Design the database schema", "Schema is merged")])

    assert _done_ids(output.result) == []


def test_a_sentence_can_complete_several_targets():
    output = _process(
        "Both the login page and the signup page are deployed.",
        [_target("a", "Deploy the login page"), _target("b", "Deploy the signup page")],
    )

    assert _done_ids(output.result) == ["a", "b"]


def test_non_english_content_without_evidence_leaves_targets_todo():
    output = _process(
        "Die Anforderungen sind noch nicht fertig. 要求文書はまだです。", [REQUIREMENTS]
    )

    assert output.result["todo"][0]["id"] == 1
    assert output.result["done"] == []


# --- dependencies -----------------------------------------------------------------------------


def test_a_target_never_completes_before_its_dependencies():
    output = _process("The schema is reviewed and merged.", [REQUIREMENTS, SCHEMA])
    targets = _by_id(output.result)

    assert _done_ids(output.result) == []
    assert targets["2"]["status"] == "blocked"
    assert 'depends on 1 ("Document project requirements")' in targets["2"]["reason"]


def test_dependencies_resolve_in_order_within_one_answer():
    todo = [
        _target(3, "Merge the pull request", "PR merged", [2]),
        _target(2, "Write the tests", "Tests written", [1]),
        _target(1, "Implement the feature", "Feature implemented"),
    ]

    output = _process("Feature implemented. Tests written. PR merged.", todo)

    assert _done_ids(output.result) == [1, 2, 3]
    assert output.metadata["completed"] == [1, 2, 3]


def test_dependencies_already_done_unlock_a_target():
    output = _process("The schema is merged.", [SCHEMA], done=[REQUIREMENTS])

    assert _done_ids(output.result) == [1, 2]
    assert output.result["done"][0]["reason"] == "Already done."


def test_done_targets_stay_done_whatever_the_content_says():
    done = [{**REQUIREMENTS, "reason": "Approved on Monday."}]

    output = _process("The requirements document is not done.", [], done=done)

    assert output.result["done"][0]["status"] == "done"
    assert output.result["done"][0]["reason"] == "Approved on Monday."
    assert output.result["todo"] == []


def test_targets_on_a_cycle_stay_todo_as_blocked():
    todo = [
        _target(1, "Write docs", "", [2]),
        _target(2, "Review docs", "", [1]),
        _target(3, "Ship docs", "", [2]),
    ]

    output = _process("Docs written, docs reviewed, docs shipped. All done.", todo)
    targets = _by_id(output.result)

    assert output.result["done"] == []
    assert targets["1"]["status"] == targets["2"]["status"] == "blocked"
    assert "Circular dependency (1 -> 2 -> 1)" in targets["1"]["reason"]
    assert targets["3"]["status"] == "blocked"  # depends on a target that cannot complete


def test_a_dependency_on_an_unknown_target_blocks():
    output = _process("Deployed!", [_target(1, "Deploy", "", [99])])

    assert output.result["todo"][0]["status"] == "blocked"
    assert "unknown target(s) 99" in output.result["todo"][0]["reason"]


def test_string_and_integer_ids_refer_to_the_same_target():
    output = _process(
        "Requirements approved. Schema merged.", [{**SCHEMA, "depends_on": ["1"]}, REQUIREMENTS]
    )

    assert _done_ids(output.result) == [1, 2]


def test_resolve_rejects_duplicate_ids():
    with pytest.raises(ServiceFailure, match="more than once"):
        resolve([REQUIREMENTS, REQUIREMENTS], [], {})


# --- quality ----------------------------------------------------------------------------------


def _decisions(filename: str) -> tuple[int, int, list[str]]:
    data = json.loads((FIXTURES / filename).read_text())
    right = total = 0
    misses = []
    for scenario in data["scenarios"]:
        todo, done = scenario["targets"]["todo"], scenario["targets"]["done"]
        _, _, completed = resolve(todo, done, assess(scenario["content"], todo, done))
        expected = {key(i) for i in scenario["completed"]}
        got = {key(i) for i in completed}
        for target in todo:
            total += 1
            if (key(target["id"]) in expected) == (key(target["id"]) in got):
                right += 1
            else:
                misses.append(f"{scenario['name']}: {target['id']}")
    return right, total, misses


@pytest.mark.parametrize(("filename", "floor"), [("scenarios.json", 0.9), ("holdout.json", 0.8)])
def test_completion_decisions_are_accurate_on_the_fixture_scenarios(filename, floor):
    right, total, misses = _decisions(filename)
    scenarios = json.loads((FIXTURES / filename).read_text())["scenarios"]
    print(f"{filename}: {right}/{total} decisions right ({right / total:.3f}); misses: {misses}")
    assert len(scenarios) >= 5
    assert right / total >= floor, misses


def test_the_main_fixture_set_has_at_least_eight_scenarios():
    assert len(json.loads((FIXTURES / "scenarios.json").read_text())["scenarios"]) >= 8


# --- the model path ---------------------------------------------------------------------------


def test_model_decisions_are_mapped_into_todo_and_done(run_endpoint, llm_route, key):
    llm_route.reply_json(
        {
            "targets": [
                {
                    "id": 1,
                    "complete": True,
                    "status": "done",
                    "reason": "Approved.",
                    "confidence": 0.9,
                },
                {"id": "2", "complete": False, "status": "in_progress", "reason": "In review."},
            ]
        }
    )

    body = run_endpoint(
        "target_analyzer",
        "process",
        {
            "content": "Requirements approved; schema in review.",
            "context": {"targets": {"todo": [REQUIREMENTS, SCHEMA]}, "additionalContext": "Shop."},
            "config": {"modelId": "mistral-large-2411", "temperature": 0.2},
        },
    )

    inner = body["result"]
    assert inner["status"] == "success"
    assert _done_ids(inner["result"]) == [1]
    targets = _by_id(inner["result"])
    assert targets["1"]["reason"] == "Approved."
    assert targets["1"]["confidence"] == 0.9
    assert targets["2"]["status"] == "in_progress"
    assert inner["metadata"]["model"] == "mistral-large-2411"
    assert inner["metadata"]["usage"]["total_tokens"] == 18
    sent = llm_route.requests[0]["body"]
    assert sent["temperature"] == 0.2
    assert "Shop." in sent["messages"][1]["content"]
    assert account_balance(account=key.account) == 97


def test_a_model_answer_breaking_a_dependency_gets_one_repair(run_endpoint, llm_route):
    llm_route.reply_json(
        {
            "targets": [
                {"id": 1, "complete": False, "reason": "Not approved."},
                {"id": 2, "complete": True, "reason": "Merged."},
            ]
        }
    )
    llm_route.reply_json(
        {
            "targets": [
                {"id": 1, "complete": False, "reason": "Not approved."},
                {"id": 2, "complete": False, "status": "blocked", "reason": "Waits for 1."},
            ]
        }
    )

    body = run_endpoint(
        "target_analyzer",
        "process",
        {
            "content": "Schema merged.",
            "context": {"targets": {"todo": [REQUIREMENTS, SCHEMA]}},
            "config": {"modelId": "gpt-4o"},
        },
    )

    assert body["result"]["status"] == "success"
    assert _done_ids(body["result"]["result"]) == []
    assert _by_id(body["result"]["result"])["2"]["status"] == "blocked"
    repair = llm_route.requests[1]["body"]["messages"][-1]["content"]
    assert "target 2 cannot be complete: it depends on 1" in repair


def test_a_model_answer_with_unknown_or_missing_ids_gets_one_repair(llm_route, db):
    llm_route.reply("not json at all")
    llm_route.reply_json({"targets": [{"id": 7, "complete": True, "reason": "?"}]})

    with pytest.raises(ServiceFailure, match="not one of the todo targets"):
        _process("x", [REQUIREMENTS], config={"modelId": "gpt-4o"})
    assert len(llm_route.requests) == 2


def test_model_http_500_is_an_error_and_refunded(run_endpoint, llm_route, key):
    llm_route.reply(status=500)

    body = run_endpoint(
        "target_analyzer",
        "analyze_targets",
        {"text": "x", "targets": {"todo": [REQUIREMENTS]}, "model_id": "mistral-small"},
    )

    assert body["result"]["status"] == "error"
    assert "HTTP 500" in body["result"]["error"]
    assert account_balance(account=key.account) == 100
