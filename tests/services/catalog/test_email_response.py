"""The email_response service: thread analysis and reply writing on the local engine (every
tone, greeting style, language, signature and length rule), schema refusals, the model path
against a loopback server, and quality on labelled threads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from accounts.ledger.selectors import account_balance, ledger_total
from services.catalog.email_response import SERVICE
from services.engines import local_email as engine
from services.engines import local_email_reply as writer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email_response" / "threads.json"
THREADS = {t["id"]: t for t in json.loads(FIXTURES.read_text())["threads"]}

analyze = SERVICE.endpoints["analyze_thread"].handler
generate = SERVICE.endpoints["generate_response"].handler

THREAD = [
    {
        "sender": "Maria Lopez <maria@client.example>",
        "recipient": "sam.carter@agency.example",
        "subject": "Project timeline",
        "content": "Hi Sam,\n\nThe board meets on Monday to approve the launch budget. Could you "
        "send me the updated timeline by Friday? I also need the list of open risks.\n\n"
        "Thanks,\nMaria",
        "timestamp": "2025-02-03T09:30:00Z",
    },
    {
        "sender": "sam.carter@agency.example",
        "recipient": "Maria Lopez <maria@client.example>",
        "subject": "RE: Project timeline",
        "content": "Hi Maria,\n\nSure, I will send it on Thursday.\n\nBest,\nSam",
        "timestamp": "2025-02-03T11:00:00Z",
    },
    {
        "sender": "Maria Lopez <maria@client.example>",
        "recipient": "sam.carter@agency.example",
        "subject": "Re: RE: Project timeline",
        "content": "Hi Sam,\n\nGreat, thank you! Please include the budget figures as well. "
        "Can you call me tomorrow morning to go through them?\n\nBest regards,\nMaria",
        "timestamp": "2025-02-03T12:00:00Z",
    },
]


def message(content: str, **fields: str) -> dict[str, str]:
    base = {
        "sender": "Jane Doe <jane.doe@client.example>",
        "recipient": "support@vendor.example",
        "subject": "Question",
        "content": content,
        "timestamp": "2025-03-03T10:00:00Z",
    }
    return {**base, **fields}


def reply(**params):
    params.setdefault("email_thread", THREAD)
    return generate(params).result


# --- through the API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_analyze_thread_through_the_api_returns_every_analysis_and_charges_two_credits(
    run_endpoint, key
):
    body = run_endpoint("email_response", "analyze_thread", {"email_thread": THREAD})

    assert body["status"] == "completed"
    inner = body["result"]
    assert inner["status"] == "success"
    analysis = inner["analysis"]
    assert inner["result"] == analysis
    assert set(analysis) == {
        "overall_sentiment",
        "main_points_discussed",
        "action_items",
        "response_urgency",
    }
    assert analysis["overall_sentiment"] in {"positive", "neutral", "negative"}
    assert analysis["response_urgency"] == "high"  # "call me tomorrow morning"
    tasks = {item["task"] for item in analysis["action_items"]}
    assert "Send me the updated timeline by Friday" in tasks
    assert "Include the budget figures as well" in tasks
    assert all(item["urgency"] in {"low", "medium", "high"} for item in analysis["action_items"])
    assert inner["metadata"]["model"] == "local/email-analysis"
    assert inner["metadata"]["requested_model"] is None
    assert inner["metadata"]["usage"]["messages"] == 3
    assert account_balance(account=key.account) == 98 == ledger_total(account=key.account)


@pytest.mark.django_db
def test_generate_response_through_the_api_returns_the_reply_and_charges_three_credits(
    run_endpoint, key
):
    params = {
        "email_thread": THREAD,
        "style_guide": {"signature": "Sam Carter\nAccount Manager", "greeting_style": "formal"},
        "key_points": ["The budget figures are attached", "I can call you at 9am tomorrow"],
    }

    inner = run_endpoint("email_response", "generate_response", params)["result"]

    assert inner["status"] == "success"
    response = inner["response"]
    assert inner["result"] == response
    assert response["subject"] == "Re: Project timeline"
    assert response["tone"] == "professional"
    assert response["content"].startswith("Dear Maria,")
    assert "The budget figures are attached." in response["content"]
    assert "I can call you at 9am tomorrow." in response["content"]
    assert response["content"].endswith("Best regards,\nSam Carter\nAccount Manager")
    assert response["key_points_addressed"] == params["key_points"]
    assert inner["metadata"]["model"] == "local/email-templates"
    assert inner["metadata"]["language"] == "en"
    assert account_balance(account=key.account) == 97


# --- analyze_thread -----------------------------------------------------------------------------

ANALYSIS_KEYS = {
    "sentiment": "overall_sentiment",
    "key_points": "main_points_discussed",
    "action_items": "action_items",
    "response_urgency": "response_urgency",
}


@pytest.mark.parametrize(("kind", "key"), ANALYSIS_KEYS.items())
def test_each_analysis_type_alone_returns_only_its_key(kind, key):
    out = analyze({"email_thread": THREAD, "analysis_type": [kind]})

    assert list(out.result) == [key]
    assert out.extra == {"analysis": out.result}
    assert out.metadata["analysis_type"] == [kind]


def test_two_analysis_types_return_both_keys_in_a_stable_order():
    out = analyze({"email_thread": THREAD, "analysis_type": ["response_urgency", "sentiment"]})

    assert list(out.result) == ["overall_sentiment", "response_urgency"]


def test_a_complaint_is_negative_and_urgent():
    thread = THREADS["angry_customer"]["messages"]

    analysis = analyze({"email_thread": thread}).result

    assert analysis["overall_sentiment"] == "negative"
    assert analysis["response_urgency"] == "high"
    assert any("full refund" in item["task"] for item in analysis["action_items"])


def test_a_thank_you_note_is_positive_with_no_action_items_and_low_urgency():
    analysis = analyze({"email_thread": THREADS["thank_you_note"]["messages"]}).result

    assert analysis["overall_sentiment"] == "positive"
    assert analysis["action_items"] == []
    assert analysis["response_urgency"] == "low"


def test_deadlines_are_dated_from_the_message_timestamp():
    # 2025-02-03 is a Monday: Friday is 2025-02-07, tomorrow is high urgency.
    items = analyze({"email_thread": THREAD, "analysis_type": ["action_items"]}).result[
        "action_items"
    ]
    by_task = {item["task"]: item for item in items}

    assert by_task["Send me the updated timeline by Friday"]["deadline"] == "2025-02-07"
    assert by_task["Send me the updated timeline by Friday"]["urgency"] == "medium"
    call = next(item for item in items if item["task"].startswith("Call me tomorrow"))
    assert call["urgency"] == "high"


def test_two_tasks_in_one_sentence_are_two_action_items():
    thread = THREADS["server_outage"]["messages"]

    items = analyze({"email_thread": thread, "analysis_type": ["action_items"]}).result[
        "action_items"
    ]

    assert [item["task"] for item in items] == [
        "Roll back last night's deployment right away",
        "Confirm on the incident channel when it is done",
    ]
    assert {item["urgency"] for item in items} == {"high"}


def test_no_rush_makes_a_question_low_urgency():
    thread = [message("Want to grab lunch next month? No rush, whenever suits you.")]

    assert analyze({"email_thread": thread}).result["response_urgency"] == "low"


def test_html_email_is_read_as_text_without_scripts_styles_or_quoted_history():
    html = (
        "<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
        "<p>Hi team,</p><p>The server migration is <b>finished</b> and all services run on "
        "the new cluster.</p><ul><li>Please update the runbook.</li></ul>"
        "<blockquote>Old quoted text about printers.</blockquote>"
        "<div class='gmail_quote'>On Mon someone wrote: ancient history</div></body></html>"
    )

    out = analyze({"email_thread": [message(html)]})

    text = json.dumps(out.result)
    assert "server migration is finished" in text
    assert "Update the runbook" in text
    for leaked in ("<", "alert", "color", "printers", "ancient"):
        assert leaked not in text


def test_quoted_reply_history_in_plain_text_is_ignored():
    content = (
        "Thanks, the invoice is paid now.\n\nOn Mon, Feb 3, 2025 at 9:00 AM Bob "
        "<bob@x.example> wrote:\n> Please pay invoice 42 by Friday.\n> It is overdue."
    )

    analysis = analyze({"email_thread": [message(content)]}).result

    assert analysis["action_items"] == []
    assert all("overdue" not in p for p in analysis["main_points_discussed"])


def test_an_empty_message_gives_a_neutral_empty_analysis():
    analysis = analyze({"email_thread": [message("")]}).result

    assert analysis == {
        "overall_sentiment": "neutral",
        "main_points_discussed": [],
        "action_items": [],
        "response_urgency": "low",
    }


def test_one_sentence_thread_has_that_sentence_as_its_main_point():
    sentence = "The quarterly report is ready for review in the shared folder."

    points = analyze({"email_thread": [message(sentence)]}).result["main_points_discussed"]

    assert points == [sentence]


def test_unicode_and_non_english_threads_are_analysed():
    thread = THREADS["german_request"]["messages"] + [
        message(
            "Hola 👋, ¿podría enviarme la factura de marzo hoy? Es urgente. ¡Gracias! 🙏",
            sender="Lucía Gómez <lucia@cliente.example>",
            timestamp="2025-03-18T08:00:00+01:00",
        )
    ]

    analysis = analyze({"email_thread": thread}).result

    tasks = " ".join(item["task"] for item in analysis["action_items"])
    assert "Angebot" in tasks
    assert "factura" in tasks
    assert analysis["response_urgency"] == "high"  # "hoy", "urgente"


@pytest.mark.parametrize(
    ("first_line", "is_greeting"),
    [
        ("Hi Sam,", True),
        ("Dear Ms. Smith,", True),
        ("Team,", True),
        ("Team meeting moved to 3pm.", False),
        ("Hello. The report is late.", False),
    ],
)
def test_only_a_real_greeting_line_is_left_out_of_the_analysis(first_line, is_greeting):
    content = f"{first_line}\nThe quarterly figures are final and were sent to the auditors."

    units = engine.prepare_thread([message(content)])[0].units

    assert units[-1] == "The quarterly figures are final and were sent to the auditors."
    assert (" ".join(units[:-1]) == first_line) is not is_greeting
    assert (units[:-1] == []) is is_greeting


def test_messages_are_read_oldest_first_by_timestamp():
    newest_first = list(reversed(THREAD))

    out_sorted = analyze({"email_thread": newest_first})
    out_given = analyze({"email_thread": THREAD})

    assert out_sorted.result == out_given.result


def test_analysis_is_deterministic():
    assert analyze({"email_thread": THREAD}).result == analyze({"email_thread": THREAD}).result


# --- generate_response: tones, greetings, signature, length ----------------------------------

TONE_MARKERS = {
    "formal": ("Dear Maria,", "Yours sincerely,"),
    "professional": ("Hello Maria,", "Best regards,"),
    "friendly": ("Hi Maria,", "All the best,"),
    "casual": ("Hey Maria,", "Cheers,"),
    "direct": ("Maria,", "Regards,"),
    "empathetic": ("Hello Maria,", "Warm regards,"),
}


@pytest.mark.parametrize("tone", sorted(TONE_MARKERS))
def test_every_tone_has_its_greeting_closing_and_sign_off(tone):
    response = reply(tone=tone)

    greeting, signoff = TONE_MARKERS[tone]
    assert response["tone"] == tone
    assert response["content"].startswith(f"{greeting}\n\n")
    # Sam signed "Best,\nSam" earlier in the thread: the reply is signed the same way.
    assert response["content"].endswith(f"\n\n{signoff}\nSam")


def test_a_formal_greeting_uses_the_full_display_name_when_nobody_signed():
    thread = [message("Please send the offer.")]

    assert reply(email_thread=thread, tone="formal")["content"].startswith("Dear Jane Doe,")


def test_tones_write_different_replies():
    contents = {reply(tone=tone)["content"] for tone in writer.TONES}

    assert len(contents) == len(writer.TONES)


def test_the_default_tone_is_professional():
    assert reply()["tone"] == "professional"
    assert reply()["content"] == reply(tone="professional")["content"]


def test_style_guide_tone_is_used_when_tone_is_absent_and_tone_wins_over_it():
    assert reply(style_guide={"tone": "empathetic"})["tone"] == "empathetic"
    assert reply(tone="casual", style_guide={"tone": "empathetic"})["tone"] == "casual"


@pytest.mark.parametrize(
    ("style", "opening"),
    [
        ("formal", "Dear Maria,"),
        ("professional", "Hello Maria,"),
        ("friendly", "Hi Maria,"),
        ("casual", "Hey Maria,"),
        ("direct", "Maria,"),
        ("none", "Thank you for your email"),
    ],
)
def test_greeting_style_sets_the_opening_line(style, opening):
    assert reply(style_guide={"greeting_style": style})["content"].startswith(opening)


def test_the_name_comes_from_the_address_when_nobody_signed():
    thread = [message("Can you check my order status?")]

    assert reply(email_thread=thread)["content"].startswith("Hello Jane,")


def test_a_role_address_gets_a_greeting_without_a_name():
    thread = [message("Your subscription renews next week.", sender="billing@saas.example")]

    response = reply(email_thread=thread, tone="formal")

    assert response["content"].startswith("Dear Sir or Madam,")
    assert "Yours faithfully," in response["content"]


def test_the_signature_is_appended_exactly_once():
    response = reply(style_guide={"signature": "Sam Carter | Agency"})

    assert response["content"].count("Sam Carter | Agency") == 1
    assert response["content"].endswith("Best regards,\nSam Carter | Agency")


def test_a_signature_with_its_own_sign_off_replaces_the_tone_sign_off():
    response = reply(style_guide={"signature": "Kind regards,\nSam"})

    assert response["content"].endswith("\n\nKind regards,\nSam")
    assert "Best regards," not in response["content"]


def test_without_a_signature_the_reply_is_signed_with_the_replier_name_from_the_thread():
    assert reply()["content"].endswith("Best regards,\nSam")


def test_the_subject_gets_one_re_prefix():
    assert reply()["subject"] == "Re: Project timeline"
    thread = [message("Hi", subject="AW: Re: RE: Angebot")]
    assert reply(email_thread=thread)["subject"] == "Re: Angebot"
    assert reply(email_thread=[message("Hi", subject="")])["subject"] == "Re: (no subject)"


def test_one_paragraph_per_key_point_with_an_intro():
    points = ["Timeline attached", "budget figures follow on Friday", "Call at 9am works!"]

    content = reply(key_points=points)["content"]

    paragraphs = content.split("\n\n")
    assert "Here are the key points:" in paragraphs
    for expected in (
        "Timeline attached.",
        "Budget figures follow on Friday.",
        "Call at 9am works!",
    ):
        assert expected in paragraphs


def test_without_key_points_the_asks_of_the_last_message_are_acknowledged():
    response = reply()

    assert "I will take care of the following:" in response["content"]
    assert "- Include the budget figures as well" in response["content"]
    assert "- Call you tomorrow morning to go through them" in response["content"]
    assert response["key_points_addressed"] == [
        "Include the budget figures as well",
        "Call you tomorrow morning to go through them",
    ]


def test_an_open_question_gets_a_promise_to_answer():
    thread = [message("When does the new pricing take effect?")]

    content = reply(email_thread=thread)["content"]

    assert "“When does the new pricing take effect?”" in content


def test_a_negative_last_message_gets_an_apology():
    thread = THREADS["angry_customer"]["messages"]

    empathetic = reply(email_thread=thread, tone="empathetic")["content"]
    professional = reply(email_thread=thread)["content"]

    assert "truly sorry" in empathetic
    assert "sorry for the trouble" in professional
    assert "sorry" not in reply(tone="empathetic")["content"].lower()


def test_high_priority_adds_a_follow_up_line():
    assert "made this a priority" in reply(style_guide={"priority": "high"})["content"]
    assert "priority" not in reply(style_guide={"priority": "low"})["content"]


@pytest.mark.parametrize("max_length", [120, 200, 260, 400])
def test_max_length_is_respected_with_the_signature_kept_and_whole_sentences(max_length):
    points = [
        "The timeline is attached to this email",
        "The budget figures will follow on Friday after the finance review",
        "I can call you tomorrow at 9am to go through them",
    ]

    response = reply(key_points=points, style_guide={"max_length": max_length, "signature": "Sam"})

    content = response["content"]
    assert len(content) <= max_length
    assert content.endswith("Best regards,\nSam")
    body = content[: -len("\n\nBest regards,\nSam")]
    assert body.rstrip()[-1] in ".!?:,…"
    for point in response["key_points_addressed"]:
        assert point in content
    assert response["key_points_addressed"] == points[: len(response["key_points_addressed"])]


def test_a_long_reply_under_no_limit_keeps_every_key_point():
    points = [f"Point number {i} is settled" for i in range(10)]

    response = reply(key_points=points)

    assert response["key_points_addressed"] == points


@pytest.mark.django_db
def test_a_signature_longer_than_max_length_is_an_error_and_refunded(run_endpoint, key):
    params = {
        "email_thread": THREAD,
        "style_guide": {"max_length": 30, "signature": "Sam Carter, Senior Account Manager"},
    }

    inner = run_endpoint("email_response", "generate_response", params)["result"]

    assert inner["status"] == "error"
    assert "does not fit in style_guide.max_length (30)" in inner["error"]
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


@pytest.mark.parametrize(
    ("language", "greeting", "signoff"),
    [
        ("de", "Hallo Maria,\n\ndanke für Ihre Nachricht", "Freundliche Grüße\nSam"),
        ("fr", "Bonjour Maria,\n\nMerci pour votre message", "Cordialement,\nSam"),
        ("es", "Hola, Maria:\n\nGracias por su mensaje", "Saludos cordiales,\nSam"),
        ("English", "Hello Maria,\n\nThank you for your email", "Best regards,\nSam"),
    ],
)
def test_style_guide_language_picks_the_templates(language, greeting, signoff):
    content = reply(style_guide={"language": language, "signature": "Sam"})["content"]

    assert content.startswith(greeting)
    assert content.endswith(signoff)


def test_the_reply_is_in_the_language_of_the_last_message_by_default():
    thread = THREADS["german_request"]["messages"]

    out = generate({"email_thread": thread, "tone": "formal"})

    assert out.metadata["language"] == "de"
    assert out.result["content"].startswith("Guten Tag Jörg,\n\nvielen Dank")
    assert "„Angebot Website“" in out.result["content"]
    assert "Mit freundlichen Grüßen" in out.result["content"]


@pytest.mark.django_db
def test_a_language_the_local_templates_lack_is_an_error_and_refunded(run_endpoint, key):
    params = {"email_thread": THREAD, "style_guide": {"language": "ja"}}

    inner = run_endpoint("email_response", "generate_response", params)["result"]

    assert inner["status"] == "error"
    assert "language 'ja' needs a model" in inner["error"]
    assert account_balance(account=key.account) == 100


def test_unicode_names_subjects_and_emoji_survive():
    thread = [
        message(
            "Könnten Sie mir bitte die Unterlagen schicken? 📎",
            sender='"Müller, Jörg" <j.mueller@firma.example>',
            subject="Unterlagen für Straße 5 🏠",
        )
    ]

    response = reply(email_thread=thread, style_guide={"signature": "Zoë Ångström"})

    assert response["subject"] == "Re: Unterlagen für Straße 5 🏠"
    assert response["content"].startswith("Hallo Jörg,")
    assert response["content"].endswith("Zoë Ångström")


def test_an_html_message_is_answered_from_its_text():
    html = "<p>Hi,</p><p>Could you <i>send</i> the signed contract?</p><p>Best,<br>Ana</p>"

    content = reply(email_thread=[message(html)])["content"]

    assert content.startswith("Hello Ana,")
    assert "- Send the signed contract" in content
    assert "<" not in content


def test_generate_is_deterministic():
    assert reply(tone="friendly") == reply(tone="friendly")


# --- schema --------------------------------------------------------------------------------------


def _errors(keyed_client, endpoint: str, params: dict) -> list[dict]:
    response = keyed_client.post(
        f"/api/v1/services/email_response/{endpoint}", params, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "BAD_REQUEST"
    return body["details"]["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "params", "path"),
    [
        ("analyze_thread", {}, "email_thread"),
        ("analyze_thread", {"email_thread": []}, "email_thread"),
        ("analyze_thread", {"email_thread": THREAD, "analysis_type": ["mood"]}, "analysis_type[0]"),
        ("analyze_thread", {"email_thread": THREAD, "analysis_type": []}, "analysis_type"),
        (
            "analyze_thread",
            {"email_thread": [{**THREAD[0], "sender": "not an address"}]},
            "email_thread[0].sender",
        ),
        (
            "analyze_thread",
            {"email_thread": [{k: v for k, v in THREAD[0].items() if k != "timestamp"}]},
            "email_thread[0].timestamp",
        ),
        ("analyze_thread", {"email_thread": [{**THREAD[0], "cc": "x@y.z"}]}, "email_thread[0].cc"),
        ("analyze_thread", {"email_thread": THREAD * 17}, "email_thread"),
        (
            "analyze_thread",
            {"email_thread": [{**THREAD[0], "content": "x" * 50_001}]},
            "email_thread[0].content",
        ),
        ("generate_response", {"email_thread": THREAD, "tone": "sarcastic"}, "tone"),
        (
            "generate_response",
            {"email_thread": THREAD, "style_guide": {"max_length": 5}},
            "style_guide.max_length",
        ),
        (
            "generate_response",
            {"email_thread": THREAD, "style_guide": {"greeting_style": "yo"}},
            "style_guide.greeting_style",
        ),
        (
            "generate_response",
            {"email_thread": THREAD, "style_guide": {"priority": "urgent"}},
            "style_guide.priority",
        ),
        ("generate_response", {"email_thread": THREAD, "key_points": [""]}, "key_points[0]"),
        (
            "generate_response",
            {"email_thread": THREAD, "options": {"temperature": 5}},
            "options.temperature",
        ),
    ],
)
def test_invalid_parameters_are_refused_before_charging(keyed_client, key, endpoint, params, path):
    errors = _errors(keyed_client, endpoint, params)

    assert path in [error["path"] for error in errors]
    assert account_balance(account=key.account) == 100


@pytest.mark.parametrize(
    "address",
    [
        "jane@x.example",
        "Jane Doe <jane@x.example>",
        '"Doe, Jane" <jane@x.example>',
        "a@x.example, Bo <b@y.example>",
    ],
)
def test_sender_addresses_in_the_usual_forms_are_accepted(address):
    endpoint = SERVICE.endpoints["analyze_thread"]

    assert endpoint.validation_errors({"email_thread": [{**THREAD[0], "sender": address}]}) == []


# --- model provider ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_analysis_by_a_model_is_mapped_into_the_documented_shape(run_endpoint, llm_route):
    llm_route.reply_json(
        {
            "overall_sentiment": "neutral",
            "main_points_discussed": ["Timeline due Friday"],
            "action_items": [{"task": "Send the timeline", "urgency": "high"}],
            "response_urgency": "medium",
        }
    )

    inner = run_endpoint(
        "email_response", "analyze_thread", {"email_thread": THREAD, "model_id": "gpt-4o"}
    )["result"]

    assert inner["status"] == "success"
    assert inner["analysis"] == {
        "overall_sentiment": "neutral",
        "main_points_discussed": ["Timeline due Friday"],
        "action_items": [{"task": "Send the timeline", "urgency": "high", "deadline": None}],
        "response_urgency": "medium",
    }
    assert inner["metadata"]["model"] == "gpt-4o"
    assert inner["metadata"]["requested_model"] == "gpt-4o"
    assert inner["metadata"]["usage"]["total_tokens"] == 18
    prompt = llm_route.requests[0]["body"]["messages"]
    assert "Could you send me the updated timeline by Friday?" in prompt[1]["content"]
    assert "overall_sentiment" in prompt[0]["content"]


def test_only_the_asked_analyses_are_requested_from_the_model(llm_route, db):
    llm_route.reply_json({"response_urgency": "low"})

    out = analyze(
        {"email_thread": THREAD, "analysis_type": ["response_urgency"], "model_id": "gpt-4o"}
    )

    assert out.result == {"response_urgency": "low"}
    system = llm_route.requests[0]["body"]["messages"][0]["content"]
    assert "response_urgency" in system
    assert "overall_sentiment" not in system


def test_a_model_answer_with_a_bad_enum_is_repaired_once(llm_route, db):
    llm_route.reply_json({"overall_sentiment": "furious"})
    llm_route.reply_json({"overall_sentiment": "negative"})

    out = analyze({"email_thread": THREAD, "analysis_type": ["sentiment"], "model_id": "gpt-4o"})

    assert out.result == {"overall_sentiment": "negative"}
    assert len(llm_route.requests) == 2
    assert (
        "overall_sentiment must be one of"
        in llm_route.requests[1]["body"]["messages"][-1]["content"]
    )
    assert out.metadata["usage"]["total_tokens"] == 36


def test_malformed_json_from_the_model_is_repaired(llm_route, db):
    llm_route.reply("Here you go: {subject: nope")
    llm_route.reply_json(
        {
            "subject": "Re: Project timeline",
            "content": "Hello Maria,\n\nDone.",
            "key_points_addressed": [],
        }
    )

    response = reply(model_id="mistral-large-2411")

    assert response["content"].startswith("Hello Maria,\n\nDone.")
    assert "not valid JSON" in llm_route.requests[1]["body"]["messages"][-1]["content"]


@pytest.mark.django_db
def test_a_model_reply_gets_the_signature_once_and_the_subject_one_re(run_endpoint, llm_route):
    llm_route.reply_json(
        {
            "subject": "RE: Re: Project timeline",
            "content": "Dear Maria,\n\nThe budget figures are attached.\n\nBest regards,\n"
            "Sam Carter",
            "key_points_addressed": ["The budget figures are attached"],
        }
    )
    params = {
        "email_thread": THREAD,
        "model_id": "gpt-4o",
        "tone": "formal",
        "style_guide": {"signature": "Sam Carter", "max_length": 500},
        "key_points": ["The budget figures are attached"],
        "options": {"temperature": 0.2, "max_tokens": 400},
    }

    inner = run_endpoint("email_response", "generate_response", params)["result"]

    response = inner["response"]
    assert response["subject"] == "Re: Project timeline"
    assert response["content"] == (
        "Dear Maria,\n\nThe budget figures are attached.\n\nYours sincerely,\nSam Carter"
    )
    assert response["tone"] == "formal"
    assert response["key_points_addressed"] == ["The budget figures are attached"]
    assert inner["metadata"]["model"] == "gpt-4o"
    assert inner["metadata"]["usage"]["prompt_tokens"] == 11
    sent = llm_route.requests[0]["body"]
    assert sent["temperature"] == 0.2
    assert sent["max_tokens"] == 400
    assert "Tone: formal." in sent["messages"][1]["content"]
    assert "- The budget figures are attached" in sent["messages"][1]["content"]


def test_a_too_long_model_reply_is_cut_to_max_length(llm_route, db):
    long_body = "Hello Maria,\n\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    llm_route.reply_json({"subject": "x", "content": long_body, "key_points_addressed": []})

    response = reply(model_id="gpt-4o", style_guide={"max_length": 300, "signature": "Sam"})

    assert len(response["content"]) <= 300
    assert response["content"].endswith("Best regards,\nSam")
    assert "is here.\n\nBest regards" in response["content"]


def test_a_language_without_templates_lets_the_model_write_the_sign_off(llm_route, db):
    llm_route.reply_json(
        {
            "subject": "Re: x",
            "content": "Ciao Maria,\n\nTutto bene.\n\nCordiali saluti,",
            "key_points_addressed": [],
        }
    )

    response = reply(model_id="gpt-4o", style_guide={"language": "it", "signature": "Sam"})

    assert response["content"] == "Ciao Maria,\n\nTutto bene.\n\nCordiali saluti,\n\nSam"
    prompt = llm_route.requests[0]["body"]["messages"][1]["content"]
    assert "Language: it." in prompt


@pytest.mark.django_db
def test_a_model_http_500_is_an_error_result_and_refunded(run_endpoint, key, llm_route):
    llm_route.reply(status=500)

    inner = run_endpoint(
        "email_response", "generate_response", {"email_thread": THREAD, "model_id": "gpt-4o"}
    )["result"]

    assert inner["status"] == "error"
    assert "HTTP 500" in inner["error"]
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


# --- quality on labelled threads ---------------------------------------------------------------


def _scores() -> dict[str, float]:
    threads = list(THREADS.values())
    sentiment_hits = urgency_hits = 0
    points_hit = points_total = 0
    points_chosen = 0
    random_points = 0.0
    items_hit = items_total = items_matched = items_found = 0
    for thread in threads:
        messages = engine.prepare_thread(thread["messages"])
        label, _ = engine.thread_sentiment(messages)
        items = engine.action_items(messages)
        sentiment_hits += label == thread["sentiment"]
        urgency_hits += engine.response_urgency(messages, items) == thread["response_urgency"]
        points = engine.main_points(messages)
        candidates = sum(len(m.units) for m in messages)
        points_hit += sum(ref in points for ref in thread["key_points"])
        points_total += len(thread["key_points"])
        points_chosen += len(points)
        random_points += len(thread["key_points"]) * len(points) / candidates
        tasks = [item.task.lower() for item in items]
        items_hit += sum(any(ref in task for task in tasks) for ref in thread["action_items"])
        items_total += len(thread["action_items"])
        items_found += len(tasks)
        items_matched += sum(any(ref in task for ref in thread["action_items"]) for task in tasks)
    labels = [t["sentiment"] for t in threads]
    majority = max(labels.count(label) for label in set(labels)) / len(threads)
    return {
        "sentiment_accuracy": sentiment_hits / len(threads),
        "sentiment_majority_baseline": majority,
        "urgency_accuracy": urgency_hits / len(threads),
        "key_point_recall": points_hit / points_total,
        "key_point_random_recall": random_points / points_total,
        "key_point_precision": points_hit / points_chosen,
        "action_item_recall": items_hit / items_total,
        "action_item_precision": items_matched / items_found,
    }


def test_quality_on_the_labelled_threads():
    scores = _scores()
    print(json.dumps({k: round(v, 3) for k, v in scores.items()}))

    assert len(THREADS) >= 15
    assert scores["sentiment_accuracy"] >= 0.8
    assert scores["sentiment_accuracy"] > scores["sentiment_majority_baseline"] + 0.3
    assert scores["urgency_accuracy"] >= 0.8
    assert scores["key_point_recall"] >= 0.7
    assert scores["key_point_recall"] >= 1.3 * scores["key_point_random_recall"]
    assert scores["action_item_recall"] >= 0.8
    assert scores["action_item_precision"] >= 0.8


def test_fixture_key_points_are_sentences_of_their_threads():
    for thread in THREADS.values():
        messages = engine.prepare_thread(thread["messages"])
        units = [u for m in messages for u in m.units]
        for ref in thread["key_points"]:
            assert ref in units, (thread["id"], ref)
        assert not math.isnan(engine.thread_sentiment(messages)[1])
