"""Faults of the local engines found while measuring them on public data sets (`make eval`,
bench/EVAL_DATA.md), each guarded by an example written here that shows the same pattern; the
public samples themselves are not part of the repository."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from services.catalog.classifier import classify_locally
from services.catalog.email_response import analyze_thread, generate_response
from services.catalog.summary import summarize
from services.engines import embeddings
from services.engines.local_extraction import extract
from services.engines.local_knowledge import KnowledgeIndex, Passage, extractive_answer
from services.engines.local_plan import plan
from services.engines.local_targets import cycles
from services.engines.nlp import sentences

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
NEWS_LABELS = ["World", "Sports", "Business", "Sci/Tech"]


@cache
def booking_schema() -> dict[str, Any]:
    """The restaurant-booking schema `make eval` measures information_tracker with."""
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "bench" / "quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_quality"] = module
    spec.loader.exec_module(module)
    return dict(module.BOOKING_SCHEMA)


# --- classifier ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # "strike" and "hit" once made a military threat a sports story
        (
            "North Korea warns its missiles can reach anywhere in Japan. SEOUL - A senior "
            "general said Tokyo would not dare strike first, since the army could hit back at "
            "any city with its latest missiles.",
            "World",
        ),
        # company names of the web industry once matched no class at all
        (
            "Is Amazon the new eBay? To compare Amazon and eBay in their battle with Google, "
            "one has to look at how similar the two situations are.",
            "Sci/Tech",
        ),
    ],
)
def test_news_topics_come_from_the_topic_vocabulary(text, label):
    result = classify_locally(text, NEWS_LABELS, False, "news")
    assert result["class"] == label, result


@pytest.mark.parametrize(
    "text",
    [
        # Written here, in the manner of AG News items that the lexicon missed (its sports
        # vocabulary named teams and stars, not the words of each sport; place names won).
        "Wicketkeeper calls it a day. COLOMBO, Sri Lanka - The national side's wicketkeeper "
        "announced on Monday that he would retire after the one-day series against New Zealand.",
        "Champion knocked out in the fourth round. The heavyweight lay on the canvas for several "
        "minutes after the challenger's left hook in Memphis.",
    ],
)
def test_the_words_of_a_sport_outweigh_the_places_it_is_played_in(text):
    result = classify_locally(text, NEWS_LABELS, False, "news")
    assert result["class"] == "Sports", result


@pytest.mark.parametrize(
    "text",
    [
        # Written here: natural science and medical research are Sci/Tech in a news taxonomy;
        # these matched no class, or a place name made them World.
        "Volcano erupts on remote island. Lava and glowing rocks poured down the slopes on "
        "Friday, and geologists said the eruption could last for weeks.",
        "Coral reefs bleach as oceans warm. Marine biologists diving off Queensland found whole "
        "reefs turned white this summer.",
        "Excess weight linked to cancer deaths. WASHINGTON - Doctors following 900,000 adults "
        "report that obesity accounts for a fifth of cancer deaths among women, the journal says.",
    ],
)
def test_science_and_medical_research_are_sci_tech(text):
    result = classify_locally(text, NEWS_LABELS, False, "news")
    assert result["class"] == "Sci/Tech", result
    assert result["confidence"] > 0.5, result


def test_a_text_matching_no_class_gets_the_uniform_confidence_and_says_so():
    # The larger topic vocabularies must not make every text match something.
    text = (
        "My struggle with vegetarian cooking on holiday. I have tried to stay off meat on "
        "Mondays, which is hard when travelling."
    )
    result = classify_locally(text, NEWS_LABELS, False, "news")
    assert result["confidence"] == pytest.approx(1 / len(NEWS_LABELS))
    assert "is a guess" in result["explanation"]


def test_a_support_word_in_a_news_label_does_not_bring_support_vocabulary():
    # "tech" names both technical support and the technology topic: for news, the topic.
    text = "Microsoft patches a security flaw in Windows after hackers exploited it."
    result = classify_locally(text, NEWS_LABELS, False, "news article")
    assert result["class"] == "Sci/Tech"


# --- email sentiment -------------------------------------------------------------------------


def _sentiment(text: str) -> str:
    output = analyze_thread(
        {
            "email_thread": [
                {
                    "sender": "customer@example.com",
                    "recipient": "support@example.com",
                    "subject": "Your service",
                    "content": text,
                    "timestamp": "2015-02-24T11:35:00Z",
                }
            ],
            "analysis_type": ["sentiment"],
        }
    )
    return str(output.result["overall_sentiment"])


@pytest.mark.parametrize(
    "text",
    [
        # a cancellation and a request for help: once read as positive ("help", the handle)
        "@united the evening leg from Austin to Reno was cancelled and now I need help to "
        "track down my bags",
        # a missing suitcase and nobody to help: once read as neutral
        "@delta My suitcase is missing and nobody at the desk can help me",
        # waiting on hold: once read as positive
        "@united been on hold for 55 mins just to get my ticket changed - why is this so slow "
        "and why can't I do it online?",
        # a closed counter and "!!! Why?!": once read as neutral
        "@JetBlue at JFK waiting to check in for my 6am departure. Counter not open yet !!! Why?!",
    ],
)
def test_complaint_language_reads_as_negative(text):
    assert _sentiment(text) == "negative"


def test_an_at_handle_carries_no_mood():
    # "@united" once counted as the positive word "united"
    assert _sentiment(
        "@united flying out of Denver tomorrow on 1730, connecting through Houston"
    ) == ("neutral")


# --- information_tracker ---------------------------------------------------------------------


def _slots(text: str) -> dict[str, Any]:
    return extract(text, booking_schema(), date(2026, 1, 1)).data


def test_one_place_no_longer_fills_city_state_and_country_at_once():
    found = _slots("Reserve a table at The Copper Kettle in Fairhope Alabama")
    assert found.get("city") == "Fairhope"
    assert found.get("state") == "Alabama"
    assert "country" not in found


def test_a_country_is_a_country_and_not_a_city():
    found = _slots("Please book a restaurant in Peru for eight people")
    assert found.get("country") == "Peru"
    assert "city" not in found and "state" not in found
    assert found.get("party_size_number") == 8


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("book spot for three at Maple Grill", 3),
        ("reserve seats for two at Blue Door Cafe", 2),
        ("book spot for 4 at The Old Mill in Clarion", 4),
    ],
)
def test_the_party_size_is_the_number_bound_to_the_people(text, size):
    assert _slots(text).get("party_size_number") == size


def test_a_kind_of_place_field_gets_the_kind_not_the_whole_sentence():
    found = _slots("I need to book a restaurant for nine people in Medford MA")
    assert found.get("restaurant_type") == "restaurant"


# --- summary ---------------------------------------------------------------------------------

NEWS_FACTS = [
    "A lifeboat crew rescued four fishermen from a sinking trawler off the coast of Cornwall "
    "on Friday night after their engine failed in a storm.",
    "The volunteers reached the boat within forty minutes of the mayday call, as waves of six "
    "metres broke over its deck.",
    "Skipper Tom Hollis, 52, said the crew had started bailing water by hand when the pumps "
    "stopped working.",
    "All four men were taken to hospital in Truro with mild hypothermia and were released on "
    "Saturday morning.",
    "The coastguard said the trawler sank shortly after the last man was lifted off.",
]
# A news page as scraped: byline and time stamps cut up by " . " separators, then the story.
NEWS_PAGE = (
    "By . Evening Courier Reporter . PUBLISHED: . 09:14 EST, 12 April 2014 . | . UPDATED: . "
    "11:02 EST, 12 April 2014 . " + " ".join(NEWS_FACTS)
)


def test_a_brief_summary_leaves_bylines_and_time_stamps_out_and_keeps_three_sentences():
    summary = summarize({"text": NEWS_PAGE, "summary_type": "brief"}).extra["summary"]
    for furniture in ("Reporter", "PUBLISHED", "UPDATED", "EST", "2014"):
        assert furniture not in summary, summary
    assert sum(fact in summary for fact in NEWS_FACTS) == 3, summary


# Written for these tests: a wire story's first sentence behind its dateline, a byline of two
# names cut by " . " separators (as in the CNN / Daily Mail articles of the eval sample).
WIRE_FACTS = [
    "A ferry carrying 200 passengers ran aground outside the harbour of Porto on Sunday after "
    "its steering failed in strong winds.",
    "Tugboats pulled the vessel free within three hours and nobody on board was hurt, the port "
    "authority said.",
    "Engineers will inspect the hull before the ferry returns to its route between Porto and "
    "the islands next week.",
]


@pytest.mark.parametrize(
    "opening",
    [
        "PORTO, Portugal (CNN) -- ",
        "(CNN) -- ",
        "Porto (Reuters) - ",
        "Anna Reyes . and Tom Hill . ",
    ],
)
def test_a_brief_summary_leaves_the_dateline_and_a_byline_of_two_names_out(opening):
    summary = summarize({"text": opening + " ".join(WIRE_FACTS), "summary_type": "brief"})
    text = summary.extra["summary"]
    for furniture in ("CNN", "Reuters", "Portugal", "Anna Reyes", "--"):
        assert furniture not in text, text
    assert text.startswith(WIRE_FACTS[0]), text


# --- knowledge_service -----------------------------------------------------------------------

VALLEY = {
    "valley#0": "The Alder Valley is a region of farms, vineyards and small towns in the north "
    "of the province. The valley's largest city is Marlow, a port on the estuary, and its "
    "second city is Kestrel Bay.",
    "valley#1": "Marlow grew from a fishing village into the main port of the estuary during "
    "the nineteenth century, when the railway arrived and the shipyards opened along the "
    "northern bank. Today the film studios that moved into the old shipyards draw visitors "
    "from abroad, and the Riverside district belongs to the city of Marlow although it lies "
    "across the water from the old town and has kept its own market.",
    "valley#2": "Kestrel Bay is a city of universities and hospitals on the southern shore of "
    "the estuary, with a ferry to the islands every hour in summer and a busy fish market on "
    "Saturdays that draws cooks from the whole coast. Its Riverside campus will belong to a "
    "new borough, in a district of the city that is still farmland.",
    "valley#3": "Riverside Park, in the east of the region, is a nature reserve. Visitors from "
    "every city in the valley walk its trails, and the district council keeps them open all "
    "year.",
    "valley#4": "Public transport links every city and district of the valley: trains run "
    "hourly between Marlow and Kestrel Bay, and buses serve the smaller towns.",
}


def test_the_paragraph_holding_the_question_s_phrase_ranks_first():
    # valley#2 holds every query term too, scattered, in a shorter text: plain BM25 put it first.
    index = KnowledgeIndex(
        [
            Passage(text=text, title="Alder Valley", kb_id="kb", doc_id=doc_id)
            for doc_id, text in VALLEY.items()
        ]
    )
    hits = index.search("Which city does the Riverside district belong to?")
    assert [hit.passage.doc_id for hit in hits[:2]] == ["valley#1", "valley#2"]


def test_the_paragraph_whose_sentence_holds_the_question_ranks_first():
    # A question of the held-out SQuAD sample (CC BY-SA 4.0, tests/fixtures/knowledge_service/
    # SOURCES.md): paragraph 12 answers it in one sentence ("the Turing machine is the most
    # commonly used model in complexity theory"); paragraph 15 repeats "model" and "machine"
    # across several sentences and ranked first before sentences were weighed.
    excerpt = json.loads((FIXTURES / "knowledge_service" / "squad_excerpt.json").read_text())
    question = excerpt["question"]
    index = KnowledgeIndex(
        [
            Passage(text=text, title="Computational complexity theory", kb_id="kb", doc_id=key)
            for key, text in excerpt["paragraphs"].items()
        ]
    )
    hits = index.search(question["question"])
    assert hits[0].passage.doc_id == question["paragraph"]
    answer = extractive_answer(index, question["question"], hits[:1], max_chars=1000)
    first = sentences(answer)[0]
    assert any(a in first for a in question["answers"]), first


# Written for these tests: the right paragraph and the answer say what is asked in other words
# ("cargo … loaded and unloaded" for "freight passes through"); a paragraph that repeats the
# question's words ("harbour of Dunmore") outranked it on words alone.
HARBOUR = {
    "port#0": "The harbour of Dunmore was dug by hand in 1820; its walls of grey granite are a "
    "listed monument, and painters come every summer to draw them.",
    "port#1": "Dunmore's docks handle grain, timber and coal; last year some four million "
    "tonnes of cargo were loaded and unloaded there, more than at any other port on the coast.",
    "port#2": "The town grew around a fort. Its old quarter keeps the walls and two gates.",
}
HARBOUR_QUESTION = "How much freight passes through the harbour of Dunmore each year?"


def _needs_embeddings() -> None:
    if not embeddings.available():
        assert not os.environ.get("CI"), "make install installs the sentence embeddings"
        pytest.skip("sentence embeddings not installed (make install installs them)")


def _harbour_index() -> KnowledgeIndex:
    return KnowledgeIndex(
        [
            Passage(text=text, title="Dunmore", kb_id="kb", doc_id=doc_id)
            for doc_id, text in HARBOUR.items()
        ]
    )


def test_a_paragraph_worded_unlike_the_question_ranks_first_by_meaning():
    _needs_embeddings()
    index = _harbour_index()
    hits = index.search(HARBOUR_QUESTION)
    assert hits[0].passage.doc_id == "port#1"
    answer = extractive_answer(index, HARBOUR_QUESTION, hits[:2], max_chars=1000)
    assert "four million tonnes" in sentences(answer)[0], answer


def test_the_sentence_that_answers_in_other_words_leads_the_answer():
    # Both sentences hold the question's words "Harwood mill"; only the second says what it
    # produced, without the word. On words alone the first won the tie.
    _needs_embeddings()
    text = (
        "The Harwood mill stands on the river below the old bridge. The Harwood mill ground "
        "oats and barley into flour for the bakers of the valley."
    )
    question = "What did the Harwood mill produce?"
    index = KnowledgeIndex(
        [
            Passage(text=text, title="Harwood", kb_id="kb", doc_id="mill"),
            Passage(text="Pasta boils in salted water.", title="Cooking", kb_id="kb", doc_id="x"),
        ]
    )
    hits = index.search(question)
    answer = extractive_answer(index, question, hits[:1], max_chars=1000)
    assert sentences(answer)[0].startswith("The Harwood mill ground oats"), answer


def test_without_embeddings_the_knowledge_engine_ranks_by_words_alone(monkeypatch):
    def unavailable(texts: list[str]) -> None:
        raise AssertionError("encode() called while embeddings are unavailable")

    monkeypatch.setattr(embeddings, "available", lambda: False)
    monkeypatch.setattr(embeddings, "encode", unavailable)
    index = _harbour_index()
    hits = index.search(HARBOUR_QUESTION)
    assert [hit.passage.doc_id for hit in hits[:2]] == ["port#0", "port#1"]
    answer = extractive_answer(index, HARBOUR_QUESTION, hits[:2], max_chars=1000)
    assert answer.startswith("The harbour of Dunmore"), answer


# --- target_generator and generate_response --------------------------------------------------


def test_a_one_sentence_mission_becomes_a_plan_of_verifiable_steps():
    mission = "Launch a company blog with weekly posts about our product"
    targets, notes = plan(mission, mode="target", existing=[], max_targets=10)
    assert 3 <= len(targets) <= 7
    assert notes.get("decomposed") is True
    assert all(t["done_when"] and t["done_when"] != t["target"] for t in targets)
    assert sum(t["target"] == mission for t in targets) <= 1  # the mission is one step at most
    assert targets[0]["depends_on"] == []
    assert all(t["depends_on"] for t in targets[1:])  # every later step waits for another
    assert all(d < t["id"] for t in targets for d in t["depends_on"])
    assert not cycles(targets)
    assert any("week" in t["target"].lower() for t in targets)  # the cadence is planned


THREAD = [
    {
        "sender": "Maria Lopez <maria@client.example>",
        "recipient": "sam@agency.example",
        "subject": "Project timeline",
        "content": "Hi Sam, could you send the updated timeline by Friday? Thanks, Maria",
        "timestamp": "2025-03-01T10:00:00Z",
    }
]
POINTS = ["The timeline moves by one week", "The budget is unchanged", "The plan follows Friday"]


@pytest.mark.parametrize("max_length", [120, 150, 200])
def test_key_points_come_first_under_a_small_max_length(max_length):
    result = generate_response(
        {
            "email_thread": THREAD,
            "key_points": POINTS,
            "style_guide": {"max_length": max_length, "signature": "Sam"},
        }
    ).result
    assert len(result["content"]) <= max_length
    assert result["key_points_addressed"] == POINTS
    assert all(point in result["content"] for point in POINTS)


def test_points_that_cannot_fit_are_kept_in_order_and_only_whole_ones_reported():
    result = generate_response(
        {
            "email_thread": THREAD,
            "key_points": POINTS,
            "style_guide": {"max_length": 80, "signature": "Sam"},
        }
    ).result
    assert len(result["content"]) <= 80
    assert result["key_points_addressed"] == POINTS[:2]
