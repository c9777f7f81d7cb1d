"""Quality of the local engines on held-out samples of public data sets, next to simple baselines.

Usage: .venv/bin/python bench/quality.py [--data DIR] [--split heldout|tune]
                                         [--only classifier_ag,summary_cnn,...]
       (or `make eval`)

The samples are not part of the repository: they are read from DIR (`--data`, else the
environment variable BREACT_EVAL_DATA, else var/eval-data/ in the project), one folder per
set as described in bench/EVAL_DATA.md (sources, licences, format and how to rebuild them).

Each row runs one service's handler exactly as a worker does (same params as an API call, no
model provider configured) on the `heldout.jsonl` part of a sample (the engines were tuned on
`tune.jsonl` only), and computes a simple baseline on the same examples in the same run:

- classifier, AG News (4 topics, zero-shot by label name): accuracy; baseline: the label's
  own words only (the best-matching label, ties to the first). Also the share of texts where
  no class matched, and the highest confidence given to one of them.
- classifier, BBC News (5 topics): accuracy; same baseline.
- summary `brief`, CNN/DailyMail (highlights written by editors): ROUGE-1 F; baseline: the
  first three sentences.
- summary `brief`, BBC News Summary (reference = extracted sentences): ROUGE-1 F; baseline:
  TextRank (word-overlap similarity, PageRank, best three sentences in reading order).
- knowledge_service, SQuAD paragraphs: right paragraph ranked first, and the answer text in
  the first sentence of the response; baseline: plain BM25 (no stemming) top-1.
- email_response analyze_thread, airline complaints: sentiment macro-F1; baseline: raw VADER
  (compound ≥ 0.05 positive, ≤ -0.05 negative).
- information_tracker, SNIPS BookRestaurant: slot micro-F1 over party_size_number, cuisine,
  restaurant_type, city, state, country, timeRange and served_dish; baseline: the first
  number as the party size plus word lists (cuisines, restaurant types, US states,
  countries) looked up in the text.

Under each row: the engine's mean time a call (the handler, or for knowledge_service the search
and the answer; baselines and metrics not counted) and the row's time in all.

ROUGE-1 is the F-measure of unigram overlap on lower-cased alphanumeric tokens, stemmed with
the Snowball English stemmer (as rouge-score's stemmed ROUGE-1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "var" / "eval-data"
DATA = DEFAULT_DATA  # set by main() from --data / BREACT_EVAL_DATA
sys.path.insert(0, str(ROOT))

AG_LABELS = ["World", "Sports", "Business", "Sci/Tech"]
BBC_LABELS = ["business", "entertainment", "politics", "sport", "tech"]
SLOTS = [
    "party_size_number",
    "cuisine",
    "restaurant_type",
    "city",
    "state",
    "country",
    "timeRange",
    "served_dish",
]
BOOKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "party_size_number": {
            "type": "integer",
            "description": "How many people the table is for.",
        },
        "cuisine": {"type": "string", "description": "The kind of food or cuisine."},
        "restaurant_type": {
            "type": "string",
            "description": "The kind of place: restaurant, bar, pub, cafe, bistro…",
        },
        "city": {"type": "string", "description": "The city."},
        "state": {"type": "string", "description": "The state."},
        "country": {"type": "string", "description": "The country."},
        "timeRange": {"type": "string", "description": "When: a date, a time or a period."},
        "served_dish": {"type": "string", "description": "A dish the place should serve."},
    },
}


def load(name: str, split: str) -> list[dict[str, Any]]:
    with open(DATA / name / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# The folders each row reads, and the fields of one line of their files (bench/EVAL_DATA.md).
LAYOUT: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ag_news": ("classifier_ag", ("heldout", "tune"), '{"id", "text", "label"}'),
    "bbc_news": (
        "classifier_bbc,summary_bbc",
        ("heldout", "tune"),
        '{"id", "title", "text", "summary", "label"}',
    ),
    "cnn_dailymail": ("summary_cnn", ("heldout", "tune"), '{"id", "text", "highlights"}'),
    "squad": (
        "knowledge",
        ("passages", "heldout", "tune"),
        'passages: {"id", "title", "text"}; questions: {"id", "question", "passage", "answers"}',
    ),
    "airline_sentiment": ("sentiment", ("heldout", "tune"), '{"id", "text", "label"}'),
    "snips_restaurant": ("slots", ("heldout", "tune"), '{"id", "text", "slots"}'),
}


def missing_data(data: Path, keys: list[str], split: str) -> list[str]:
    """One line per folder or file that the rows `keys` need and `data` lacks."""
    problems = []
    for folder, (rows, files, fields) in LAYOUT.items():
        if not set(rows.split(",")) & set(keys):
            continue
        needed = [f for f in files if f in (split, "passages")]
        absent = [f"{f}.jsonl" for f in needed if not (data / folder / f"{f}.jsonl").is_file()]
        if absent:
            what = "folder missing" if not (data / folder).is_dir() else "missing"
            problems.append(
                f"  {data / folder}/: {what}, needs {', '.join(absent)} "
                f"(JSON Lines, one object a line: {fields})"
            )
    return problems


# --- metrics ---------------------------------------------------------------------------------


def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


_TOKEN = re.compile(r"[a-z0-9]+")


def rouge1(candidate: str, reference: str) -> float:
    stem = _stemmer().stemWord
    a = Counter(stem(t) for t in _TOKEN.findall(candidate.lower()))
    b = Counter(stem(t) for t in _TOKEN.findall(reference.lower()))
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _norm(value: Any) -> str:
    return " ".join(_TOKEN.findall(str(value).lower()))


_NUMBER_WORDS = {
    w: n
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def _slot_value(slot: str, value: Any) -> str:
    if slot == "party_size_number":
        text = _norm(value)
        if text in _NUMBER_WORDS:
            return str(_NUMBER_WORDS[text])
        try:
            return str(int(float(text)))
        except ValueError:
            return text
    return _norm(value)


def slot_counts(gold: list[list[str]], predicted: dict[str, Any]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one text over SLOTS. A value
    matches when equal after lower-casing and dropping punctuation; a time range also when
    one contains the other (\"tonight\" for \"tonight at 8 pm\" is half right and counts)."""
    want = {}
    for slot, value in gold:
        if slot in SLOTS and slot not in want:
            want[slot] = _slot_value(slot, value)
    got = {
        slot: _slot_value(slot, value)
        for slot, value in predicted.items()
        if slot in SLOTS and value not in (None, "", [])
    }
    tp = fp = 0
    for slot, value in got.items():
        gold_value = want.get(slot)
        ok = gold_value is not None and (
            value == gold_value
            or (slot == "timeRange" and value and (value in gold_value or gold_value in value))
        )
        tp += ok
        fp += not ok
    fn = sum(1 for slot in want if slot not in got or not _matches(slot, got[slot], want[slot]))
    return tp, fp, fn


def _matches(slot: str, value: str, gold: str) -> bool:
    return value == gold or (
        slot == "timeRange" and bool(value) and (value in gold or gold in value)
    )


# --- baselines -------------------------------------------------------------------------------


def label_word_baseline(text: str, labels: list[str]) -> str:
    from services.catalog.classifier import label_words
    from services.engines.nlp import stem

    words = Counter(stem(w) for w in _TOKEN.findall(text.lower()))
    best, best_score = labels[0], 0
    for label in labels:
        score = sum(words[stem(w)] for w in label_words(label))
        if score > best_score:
            best, best_score = label, score
    return best


def _sentences(text: str) -> list[str]:
    from services.engines.nlp import sentences

    return sentences(text)


def lead3(text: str) -> str:
    """The first three sentences, bylines and time stamps left out (as the engine reads them)."""
    from services.catalog.summary import _split

    return " ".join(s.text for s in _split(text)[:3])


def textrank3(text: str) -> str:
    """Mihalcea & Tarau's TextRank: similarity = shared words / (log|a| + log|b|)."""
    items = _sentences(text)
    if len(items) <= 3:
        return " ".join(items)
    bags = [set(_TOKEN.findall(s.lower())) for s in items]
    n = len(items)
    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j and len(bags[i]) > 1 and len(bags[j]) > 1:
                shared = len(bags[i] & bags[j])
                weights[i][j] = shared / (math.log(len(bags[i])) + math.log(len(bags[j])))
    scores = [1.0] * n
    out_sums = [sum(row) or 1.0 for row in weights]
    for _ in range(50):
        scores = [
            0.15 + 0.85 * sum(weights[j][i] / out_sums[j] * scores[j] for j in range(n))
            for i in range(n)
        ]
    top = sorted(sorted(range(n), key=lambda i: -scores[i])[:3])
    return " ".join(items[i] for i in top)


_CUISINES = [
    "italian",
    "french",
    "chinese",
    "japanese",
    "mexican",
    "indian",
    "thai",
    "greek",
    "spanish",
    "korean",
    "vietnamese",
    "american",
    "german",
    "turkish",
    "lebanese",
    "brazilian",
    "ethiopian",
    "persian",
    "caribbean",
    "cajun",
    "sushi",
    "pizza",
    "seafood",
    "steakhouse",
    "vegan",
    "vegetarian",
    "bbq",
    "barbecue",
]
_PLACES = [
    "restaurant",
    "bar",
    "pub",
    "cafe",
    "café",
    "bistro",
    "brasserie",
    "diner",
    "tavern",
    "taverna",
    "food",
    "truck",
]
_US_STATES = [
    "alabama",
    "alaska",
    "arizona",
    "arkansas",
    "california",
    "colorado",
    "connecticut",
    "delaware",
    "florida",
    "georgia",
    "hawaii",
    "idaho",
    "illinois",
    "indiana",
    "iowa",
    "kansas",
    "kentucky",
    "louisiana",
    "maine",
    "maryland",
    "massachusetts",
    "michigan",
    "minnesota",
    "mississippi",
    "missouri",
    "montana",
    "nebraska",
    "nevada",
    "ohio",
    "oklahoma",
    "oregon",
    "pennsylvania",
    "tennessee",
    "texas",
    "utah",
    "vermont",
    "virginia",
    "washington",
    "wisconsin",
    "wyoming",
]
_COUNTRIES = [
    "france",
    "germany",
    "italy",
    "spain",
    "japan",
    "china",
    "india",
    "mexico",
    "canada",
    "brazil",
    "greece",
    "turkey",
    "russia",
    "australia",
    "argentina",
    "portugal",
    "ireland",
    "england",
    "scotland",
    "poland",
    "egypt",
    "peru",
    "chile",
    "vietnam",
    "thailand",
    "korea",
    "sweden",
    "norway",
    "denmark",
    "finland",
    "austria",
    "belgium",
    "switzerland",
    "netherlands",
]


def booking_baseline(text: str) -> dict[str, Any]:
    lowered = text.lower()
    tokens = _TOKEN.findall(lowered)
    out: dict[str, Any] = {}
    for token in tokens:
        if token.isdigit() or token in _NUMBER_WORDS:
            out["party_size_number"] = token
            break
    for key, words in (
        ("cuisine", _CUISINES),
        ("restaurant_type", _PLACES),
        ("state", _US_STATES),
        ("country", _COUNTRIES),
    ):
        for word in words:
            if word in tokens:
                out[key] = word
                break
    return out


def plain_bm25_top(passages: list[dict[str, Any]], query: str) -> str:
    docs = [_TOKEN.findall(p["text"].lower()) for p in passages]
    n = len(docs)
    avg = sum(len(d) for d in docs) / n
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    tfs = [Counter(d) for d in docs]
    best, best_score = passages[0]["id"], -1.0
    q = set(_TOKEN.findall(query.lower()))
    for p, tf, d in zip(passages, tfs, docs, strict=True):
        score = 0.0
        for t in q:
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * tf[t] * 2.5 / (tf[t] + 1.5 * (0.25 + 0.75 * len(d) / avg))
        if score > best_score:
            best, best_score = p["id"], score
    return best


def raw_vader(text: str) -> str:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    global _RAW_VADER
    if _RAW_VADER is None:
        _RAW_VADER = SentimentIntensityAnalyzer()
    score = _RAW_VADER.polarity_scores(text)["compound"]
    return "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"


_RAW_VADER: Any = None


# --- rows ------------------------------------------------------------------------------------


def _run(service: str, endpoint: str, params: dict[str, Any]) -> Any:
    from services.catalogue.registry import find_service

    definition = find_service(service)
    assert definition is not None
    ep = definition.endpoints[endpoint]
    errors = ep.validation_errors(params)
    if errors:
        raise SystemExit(f"{service}.{endpoint}: invalid params {errors}")
    started = time.perf_counter()
    result = ep.handler(params).result
    ENGINE_TIME[0] += time.perf_counter() - started
    ENGINE_TIME[1] += 1
    return result


# Seconds spent in the engine's calls of the current row, and their number (the baselines and
# the metrics are not counted): the per-call time printed next to each row.
ENGINE_TIME: list[float] = [0.0, 0]


EMBEDDINGS = False  # --embeddings: the MiniLM zero-shot baseline instead of label words


def embedding_baseline(texts: list[str], labels: list[str]) -> list[str]:
    """Zero-shot by sentence embeddings: the label whose "<label> news" is nearest."""
    import minilm

    vectors = minilm.encode(texts)
    names = minilm.encode([f"{label} news" for label in labels])
    return [labels[i] for i in (vectors @ names.T).argmax(1)]


def row_classifier(name: str, labels: list[str], split: str) -> dict[str, Any]:
    items = load(name, split)
    right = base_right = abstained = 0
    if EMBEDDINGS:
        texts = [i["text"] if "title" not in i else f"{i['title']}. {i['text']}" for i in items]
        guesses = embedding_baseline(texts, labels)
    worst_abstain = 0.0
    for item in items:
        text = item["text"] if "title" not in item else f"{item['title']}. {item['text']}"
        result = _run(
            "classifier",
            "process",
            {"content": text, "context": {"classificationType": "news", "allowedClasses": labels}},
        )
        right += result["class"] == item["label"]
        if result["explanation"].startswith("No word"):
            abstained += 1
            worst_abstain = max(worst_abstain, result["confidence"])
        if not EMBEDDINGS:
            base_right += label_word_baseline(text, labels) == item["label"]
    if EMBEDDINGS:
        base_right = sum(g == i["label"] for g, i in zip(guesses, items, strict=True))
    n = len(items)
    return {
        "n": n,
        "figure": right / n,
        "baseline": base_right / n,
        "note": f"no match {abstained / n:.1%}, their confidence at most {worst_abstain:.2f}",
    }


def row_summary(name: str, reference_key: str, split: str, baseline: Callable[[str], str]):
    items = load(name, split)
    scores, base = [], []
    for item in items:
        result = _run("summary", "summarize", {"text": item["text"], "summary_type": "brief"})
        reference = item[reference_key]
        scores.append(rouge1(result["summary"], reference))
        base.append(rouge1(baseline(item["text"]), reference))
    n = len(items)
    return {"n": n, "figure": sum(scores) / n, "baseline": sum(base) / n, "note": ""}


def row_knowledge(split: str) -> dict[str, Any]:
    from services.catalog.knowledge_service import _config, _local_answer
    from services.engines.local_knowledge import KnowledgeIndex, Passage
    from services.engines.nlp import sentences

    passages = load("squad", "passages")
    index = KnowledgeIndex(
        [
            Passage(text=p["text"], title=p["title"], kb_id="kb_squad", doc_id=p["id"])
            for p in passages
        ]
    )
    config = _config({"context": {"knowledge": "x"}})
    items = load("squad", split)
    top1 = first_sentence = base = 0
    for item in items:
        started = time.perf_counter()
        hits = index.search(item["question"])
        result, _ = _local_answer(index, item["question"], hits, config)
        ENGINE_TIME[0] += time.perf_counter() - started
        ENGINE_TIME[1] += 1
        top1 += bool(hits) and hits[0].passage.doc_id == item["passage"]
        first = (sentences(result["response"]) or [""])[0].lower()
        first_sentence += any(a.lower() in first for a in item["answers"])
        base += plain_bm25_top(passages, item["question"]) == item["passage"]
    n = len(items)
    return {
        "n": n,
        "figure": top1 / n,
        "figure2": first_sentence / n,
        "baseline": base / n,
        "note": f"{len(passages)} paragraphs searched",
    }


def row_sentiment(split: str) -> dict[str, Any]:
    items = load("airline_sentiment", split)
    gold, predicted, base = [], [], []
    for item in items:
        result = _run(
            "email_response",
            "analyze_thread",
            {
                "email_thread": [
                    {
                        "sender": "customer@example.com",
                        "recipient": "support@example.com",
                        "subject": "Your service",
                        "content": item["text"],
                        "timestamp": "2015-02-24T11:35:00Z",
                    }
                ],
                "analysis_type": ["sentiment"],
            },
        )
        gold.append(item["label"])
        predicted.append(result["overall_sentiment"])
        base.append(raw_vader(item["text"]))
    wrong = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return {
        "n": len(items),
        "figure": macro_f1(gold, predicted),
        "baseline": macro_f1(gold, base),
        "note": "negatives called neutral {}, positive {}".format(
            wrong[("negative", "neutral")], wrong[("negative", "positive")]
        ),
    }


def row_slots(split: str) -> dict[str, Any]:
    items = load("snips_restaurant", split)
    totals = [0, 0, 0]
    base = [0, 0, 0]
    for item in items:
        result = _run(
            "information_tracker",
            "process",
            {"content": item["text"], "config": {"schema": BOOKING_SCHEMA}},
        )
        for i, v in enumerate(slot_counts(item["slots"], result)):
            totals[i] += v
        for i, v in enumerate(slot_counts(item["slots"], booking_baseline(item["text"]))):
            base[i] += v

    def f1(tp: int, fp: int, fn: int) -> float:
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    return {"n": len(items), "figure": f1(*totals), "baseline": f1(*base), "note": ""}


ROWS: dict[str, tuple[str, str, Callable[[str], dict[str, Any]]]] = {
    "classifier_ag": (
        "classifier · AG News 4 topics, zero-shot, accuracy",
        "label words only",
        lambda split: row_classifier("ag_news", AG_LABELS, split),
    ),
    "classifier_bbc": (
        "classifier · BBC News 5 topics, accuracy",
        "label words only",
        lambda split: row_classifier("bbc_news", BBC_LABELS, split),
    ),
    "summary_cnn": (
        "summary brief · CNN/DailyMail highlights, ROUGE-1",
        "first 3 sentences",
        lambda split: row_summary("cnn_dailymail", "highlights", split, lead3),
    ),
    "summary_bbc": (
        "summary brief · BBC extractive summaries, ROUGE-1",
        "TextRank",
        lambda split: row_summary("bbc_news", "summary", split, textrank3),
    ),
    "knowledge": (
        "knowledge_service · SQuAD, paragraph first / answer in 1st sentence",
        "plain BM25",
        row_knowledge,
    ),
    "sentiment": (
        "email_response analyze · airline complaints, sentiment macro-F1",
        "raw VADER",
        row_sentiment,
    ),
    "slots": (
        "information_tracker · SNIPS BookRestaurant slots, micro-F1",
        "first number + word lists",
        row_slots,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder holding the samples (default: $BREACT_EVAL_DATA, else var/eval-data/); "
        "layout in bench/EVAL_DATA.md",
    )
    parser.add_argument("--split", choices=["heldout", "tune"], default="heldout")
    parser.add_argument("--only", default="", help="comma-separated row keys: " + ", ".join(ROWS))
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help="classifier baseline: MiniLM zero-shot (needs the weights, see bench/minilm.py; "
        "minutes on two cores) instead of the label words",
    )
    args = parser.parse_args()
    global EMBEDDINGS
    EMBEDDINGS = args.embeddings
    if EMBEDDINGS:
        sys.path.insert(0, str(ROOT / "bench"))
        for key in ("classifier_ag", "classifier_bbc"):
            title, _, run = ROWS[key]
            ROWS[key] = (title, "MiniLM zero-shot", run)
    only = [key for key in args.only.split(",") if key]
    unknown = [key for key in only if key not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row {', '.join(unknown)}; rows: {', '.join(ROWS)}")
    global DATA
    DATA = (args.data or Path(os.environ.get("BREACT_EVAL_DATA") or DEFAULT_DATA)).resolve()
    problems = missing_data(DATA, only or list(ROWS), args.split)
    if problems:
        raise SystemExit(
            f"The evaluation samples are not in {DATA}:\n"
            + "\n".join(problems)
            + "\nThey are not part of the repository. Rebuild them from the public sources as "
            "bench/EVAL_DATA.md describes, then pass --data DIR or set BREACT_EVAL_DATA "
            "(default var/eval-data/)."
        )

    for name in list(os.environ):
        if name.startswith(("BREACT_", "CELERY_")) or name in {"DATABASE_URL", "REDIS_URL"}:
            del os.environ[name]
    os.environ["BREACT_VAR_DIR"] = tempfile.mkdtemp(prefix="breact-quality-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "breact.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    print(f"Local engines on the {args.split} samples in {DATA} (bench/EVAL_DATA.md)")
    print(f"{'service · set, measure':68} {'n':>4} {'engine':>13} {'baseline':>9}  baseline")
    for key, (title, baseline_name, run) in ROWS.items():
        if only and key not in only:
            continue
        started = time.perf_counter()
        ENGINE_TIME[:] = [0.0, 0]
        row = run(args.split)
        figure = f"{row['figure']:.3f}"
        if "figure2" in row:
            figure += f" / {row['figure2']:.3f}"
        seconds = time.perf_counter() - started
        per_call = 1000 * ENGINE_TIME[0] / max(1, int(ENGINE_TIME[1]))
        print(f"{title:68} {row['n']:>4} {figure:>13} {row['baseline']:>9.3f}  {baseline_name}")
        note = f"{row['note']}; " if row["note"] else ""
        print(f"{'':68} {'':>4} {note}engine {per_call:.2f} ms a call ({seconds:.1f} s in all)")


if __name__ == "__main__":
    main()
