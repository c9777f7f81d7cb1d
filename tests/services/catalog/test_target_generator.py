"""The target_generator service: action items, imperatives and completion conditions, ids that
continue the existing ones, dependencies without cycles, milestone grouping, quality on a small
fixture set, and the model path against a loopback chat-completions server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from accounts.ledger.selectors import account_balance
from services.catalog.target_generator import MAX_CONTENT_CHARS, SERVICE
from services.catalogue.registry import ServiceFailure
from services.engines.local_plan import done_when_for, imperative, plan
from services.engines.local_targets import cycles, key

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "target_generator"
URL = "/api/v1/services/target_generator/process"
PORTAL = (
    "Launch the new customer portal. First gather requirements from the support team. Then "
    "design the UI mockups and build the frontend. Once the frontend is built, write "
    "integration tests. Finally, deploy the portal to production."
)
EXISTING = {
    "todo": [
        {
            "id": 7,
            "target": "Choose a hosting provider",
            "done_when": "Contract signed",
            "depends_on": [],
        }
    ],
    "done": [
        {
            "id": "ops-1",
            "target": "Set up the cloud account",
            "done_when": "Account exists",
            "depends_on": [],
        }
    ],
}


def _generate(content: str, mode: str = "target", **extra: Any) -> Any:
    return SERVICE.endpoints["process"].handler({"content": content, "mode": mode, **extra})


def _targets(
    content: str, mode: str = "target", existing: list[Any] | None = None, max_targets: int = 10
):
    return plan(content, mode=mode, existing=existing or [], max_targets=max_targets)[0]


def _assert_valid_plan(targets: list[dict[str, Any]], existing: list[dict[str, Any]]) -> None:
    """Unique ids, no clash with existing ones, dependencies only on existing or earlier ids."""
    known = {key(t["id"]) for t in existing}
    for target in targets:
        assert set(target) == {"id", "target", "done_when", "depends_on"}
        assert key(target["id"]) not in known
        assert target["target"] and target["done_when"]
        assert all(key(d) in known for d in target["depends_on"]), target
        known.add(key(target["id"]))
    assert cycles([*existing, *targets]) == {}


# --- through the API ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["target", "milestone"])
def test_process_generates_targets_after_the_existing_ids(run_endpoint, key, mode):
    body = run_endpoint(
        "target_generator",
        "process",
        {"content": PORTAL, "mode": mode, "context": {"existingTargets": EXISTING}},
    )

    inner = body["result"]
    assert inner["status"] == "success"
    targets = inner["result"]["targets"]
    assert targets[0]["id"] == 8  # after the highest numeric existing id, 7
    _assert_valid_plan(targets, [*EXISTING["todo"], *EXISTING["done"]])
    metadata = inner["metadata"]
    assert metadata["model"] == "local/target-planner"
    assert metadata["mode"] == mode
    assert metadata["existing_count"] == 2
    assert metadata["generated_count"] == len(targets)
    assert account_balance(account=key.account) == 97


def test_target_mode_gives_one_imperative_target_per_action():
    targets = _targets(PORTAL)

    assert [t["target"] for t in targets] == [
        "Gather requirements from the support team",
        "Design the UI mockups",
        "Build the frontend",
        "Write integration tests",
        "Deploy the portal to production",
        "Launch the new customer portal",
    ]
    assert [t["done_when"] for t in targets][:3] == [
        "Requirements are gathered from the support team.",
        "The UI mockups are designed.",
        "The frontend is built.",
    ]
    deps = {t["target"].split()[0]: t["depends_on"] for t in targets}
    assert deps["Gather"] == []
    assert deps["Design"] == deps["Build"] == [1]  # "then design … and build …"
    assert deps["Write"] == [3]  # "once the frontend is built"
    assert deps["Deploy"] == [2, 4]  # "finally": after everything still open
    assert deps["Launch"] == [5]  # the opening goal comes last


def test_milestone_mode_groups_items_into_fewer_chained_milestones():
    content = (
        "Redesign the onboarding, add offline mode, rewrite the sync engine, run a public beta, "
        "fix the beta feedback and release to both app stores."
    )

    targets = _targets(content, mode="milestone")

    assert len(targets) == 3
    assert targets[0]["target"] == "Redesign the onboarding and add offline mode"
    assert targets[0]["done_when"] == "All of: The onboarding is redesigned; Offline mode is added."
    assert [t["depends_on"] for t in targets] == [[], [1], [2]]


def test_milestones_follow_paragraphs():
    content = "Find a location.\n\nRenovate the shop and install the ovens.\n\nHire four bakers."

    targets = _targets(content, mode="milestone")

    assert [t["target"] for t in targets] == [
        "Find a location",
        "Renovate the shop and install the ovens",
        "Hire four bakers",
    ]


def test_existing_targets_are_not_generated_again_and_can_be_depended_on():
    existing = [{"id": 3, "target": "Gather requirements from the support team", "done_when": "x"}]

    output = _generate(PORTAL, context={"existingTargets": {"done": existing}})
    targets = output.result["targets"]

    assert "Gather requirements from the support team" not in [t["target"] for t in targets]
    assert output.metadata["skipped_existing"] == [3]
    assert targets[0]["depends_on"] == [3]  # "then design …" follows the existing target
    _assert_valid_plan(targets, existing)


def test_string_ids_of_existing_targets_start_new_ids_at_one_without_clashes():
    existing = [{"id": "1", "target": "Old"}, {"id": "abc", "target": "Other"}]

    targets = _generate(
        "Write the docs. Publish the docs.", context={"existingTargets": {"todo": existing}}
    ).result["targets"]

    assert [t["id"] for t in targets] == [2, 3]


def test_a_condition_can_point_at_an_existing_target():
    existing = [{"id": 4, "target": "Deploy the API", "done_when": "API is live"}]

    targets = _targets("Once the API is deployed, announce it on the blog.", existing=existing)

    assert targets == [
        {
            "id": 5,
            "target": "Announce it on the blog",
            "done_when": "It is announced on the blog.",
            "depends_on": [4],
        }
    ]


def test_numbered_lists_are_sequential_and_bullets_independent():
    numbered = _targets("1. Export the data\n2. Clean the data\n3. Import the data")
    bullets = _targets("- Book the flights\n- Reserve a hotel\n- Print the badges")

    assert [t["depends_on"] for t in numbered] == [[], [1], [2]]
    assert [t["depends_on"] for t in bullets] == [[], [], []]


def test_max_targets_truncates_and_says_so():
    output = _generate(
        "- Book flights\n- Reserve a hotel\n- Print badges\n- Pack the booth",
        config={"maxTargets": 2},
    )

    assert len(output.result["targets"]) == 2
    assert output.metadata["truncated"] == 2


def test_a_description_without_actions_is_a_clear_error():
    with pytest.raises(ServiceFailure, match="No actionable items"):
        _generate("   \n\n  ")


def test_duplicate_existing_ids_are_an_error():
    with pytest.raises(ServiceFailure, match="used more than once"):
        _generate(
            "Write docs.",
            context={
                "existingTargets": {
                    "todo": [{"id": 1, "target": "a"}],
                    "done": [{"id": 1, "target": "b"}],
                }
            },
        )


def test_one_sentence_gives_one_target():
    assert _targets("Write the onboarding guide.") == [
        {
            "id": 1,
            "target": "Write the onboarding guide",
            "done_when": "The onboarding guide is written.",
            "depends_on": [],
        }
    ]


def test_unicode_and_non_english_text_still_give_targets():
    targets = _targets("Übersetze die Anleitung ins Deutsche. Prüfe die Übersetzung.")

    assert [t["target"] for t in targets] == [
        "Übersetze die Anleitung ins Deutsche",
        "Prüfe die Übersetzung",
    ]
    _assert_valid_plan(targets, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We need to migrate the database to PostgreSQL", "Migrate the database to PostgreSQL"),
        ("The old backups should be archived", "Archive the old backups"),
        ("Then set up monitoring", "Set up monitoring"),
        ("Step 2: write the release notes", "Write the release notes"),
        ("Let's schedule the kickoff", "Schedule the kickoff"),
    ],
)
def test_items_become_imperatives(text, expected):
    assert imperative(text)[0] == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("Deploy the backend to production", "The backend is deployed to production."),
        ("Hire two support engineers", "Two support engineers are hired."),
        ("Write the API docs", "The API docs are written."),
        ("Get the budget approved by finance", "The budget is approved by finance."),
        ("Release to both app stores", "Released to both app stores."),
        ("Quarterly planning", "Quarterly planning is complete and documented."),
    ],
)
def test_done_when_is_derived_from_the_verb(target, expected):
    assert done_when_for(target, *imperative(target)[1:]) == expected


@pytest.mark.parametrize(
    "content",
    [
        PORTAL,
        "Finally, ship it. Then test it. Once shipped, celebrate.",
        "1. A\n2. Write B\n3. Then write C; then D and E.",
        "Once the docs are written, write the docs.",
    ],
)
def test_plans_never_have_cycles_or_forward_references(content):
    existing = [{"id": 2, "target": "Write the docs"}]
    for mode in ("target", "milestone"):
        _assert_valid_plan(_targets(content, mode=mode, existing=existing), existing)


def _error_paths(response) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "BAD_REQUEST"
    return [e["path"] for e in body["details"]["errors"]]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"mode": "target"}, "content"),
        ({"content": "x"}, "mode"),
        ({"content": "x", "mode": "epic"}, "mode"),
        ({"content": "", "mode": "target"}, "content"),
        ({"content": "x" * (MAX_CONTENT_CHARS + 1), "mode": "target"}, "content"),
        ({"content": "x", "mode": "target", "config": {"maxTargets": 51}}, "config.maxTargets"),
        ({"content": "x", "mode": "target", "config": {"maxTargets": 0}}, "config.maxTargets"),
        ({"content": "x", "mode": "target", "context": {"mode": "target"}}, "context.mode"),
        (
            {
                "content": "x",
                "mode": "target",
                "context": {"existingTargets": {"todo": [{"id": True, "target": "t"}]}},
            },
            "context.existingTargets.todo[0].id",
        ),
    ],
)
def test_invalid_parameters_are_refused_before_charging(keyed_client, key, params, path):
    response = keyed_client.post(URL, params, format="json")

    assert path in _error_paths(response)
    assert account_balance(account=key.account) == 100


# --- quality ----------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _score(filename: str) -> tuple[int, int, int, int, int]:
    """(targets matched, targets expected, edges right, edges generated, edges expected)."""
    matched = total = right = generated = expected_edges = 0
    for case in json.loads((FIXTURES / filename).read_text())["cases"]:
        got = _targets(case["content"], mode=case["mode"])
        position: dict[int, Any] = {}
        for index, text in enumerate(case["targets"]):
            total += 1
            found = next((t["id"] for t in got if _words(text) <= _words(t["target"])), None)
            if found is not None:
                matched += 1
                position[index] = found
        edges = {(position.get(a), position.get(b)) for a, b in case["edges"]}
        got_edges = {(t["id"], d) for t in got for d in t["depends_on"]}
        right += len(edges & got_edges)
        generated += len(got_edges)
        expected_edges += len(edges)
    return matched, total, right, generated, expected_edges


@pytest.mark.parametrize("filename", ["descriptions.json", "holdout.json"])
def test_plans_match_the_fixture_descriptions(filename):
    matched, total, right, generated, expected = _score(filename)
    precision, recall = right / max(generated, 1), right / max(expected, 1)
    print(
        f"{filename}: targets {matched}/{total}; edges precision {precision:.2f} "
        f"recall {recall:.2f}"
    )
    assert matched / total >= 0.9
    assert precision >= 0.8
    assert recall >= 0.8


# --- the model path ---------------------------------------------------------------------------


def test_model_targets_are_checked_and_renumbered(run_endpoint, llm_route, key):
    llm_route.reply_json(
        {
            "targets": [
                {"id": 1, "target": "Write docs", "done_when": "Docs merged", "depends_on": []},
            ]
        }
    )  # id 1 clashes with an existing target
    llm_route.reply_json(
        {
            "targets": [
                {"id": "a", "target": "Write docs", "done_when": "Docs merged", "depends_on": [1]},
                {
                    "id": "b",
                    "target": "Publish docs",
                    "done_when": "Docs live",
                    "depends_on": ["a"],
                },
            ]
        }
    )

    body = run_endpoint(
        "target_generator",
        "process",
        {
            "content": "Document and publish the API.",
            "mode": "target",
            "context": {
                "existingTargets": {"done": [{"id": 1, "target": "Build the API"}]},
                "additionalContext": "Developer portal",
            },
            "config": {"modelId": "gpt-4o", "maxTargets": 5},
        },
    )

    inner = body["result"]
    assert inner["status"] == "success"
    assert inner["result"]["targets"] == [
        {"id": 2, "target": "Write docs", "done_when": "Docs merged", "depends_on": [1]},
        {"id": 3, "target": "Publish docs", "done_when": "Docs live", "depends_on": [2]},
    ]
    assert inner["metadata"]["model"] == "gpt-4o"
    assert inner["metadata"]["usage"]["total_tokens"] == 36
    assert "id 1 is already used" in llm_route.requests[1]["body"]["messages"][-1]["content"]
    prompt = llm_route.requests[0]["body"]["messages"][1]["content"]
    assert "Mode: target" in prompt
    assert "Developer portal" in prompt
    assert "from 2" in prompt
    assert account_balance(account=key.account) == 97


def test_a_model_answer_with_forward_dependencies_fails_after_one_repair(llm_route, db):
    bad = {
        "targets": [
            {"id": 1, "target": "A", "done_when": "a", "depends_on": [2]},
            {"id": 2, "target": "B", "done_when": "b"},
        ]
    }
    llm_route.reply_json(bad)
    llm_route.reply_json(bad)

    with pytest.raises(ServiceFailure, match="neither an existing target nor an earlier new one"):
        _generate("A then B.", config={"modelId": "gpt-4o"})


def test_model_http_500_is_an_error_and_refunded(run_endpoint, llm_route, key):
    llm_route.reply(status=500)

    body = run_endpoint(
        "target_generator",
        "process",
        {
            "content": "Write docs.",
            "mode": "milestone",
            "config": {"modelId": "mistral-large-2411"},
        },
    )

    assert body["result"]["status"] == "error"
    assert "HTTP 500" in body["result"]["error"]
    assert account_balance(account=key.account) == 100
