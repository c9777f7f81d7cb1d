"""Build the `make eval` samples (bench/EVAL_DATA.md) from local git copies of their sources.

Usage: .venv/bin/python bench/build_eval_data.py --sources DIR [--out var/eval-data]

DIR holds one git copy of each source repository (a clone, or a bare/mirror git directory),
found as DIR/<name>, DIR/<name>.git or DIR/<owner>+<name>/repo; every file is read at the
commit bench/EVAL_DATA.md names (`git show <commit>:<path>`), so the copies may be newer. Only
git is needed, no network at run time: clone the six repositories first, e.g.
`git clone https://github.com/snipsco/nlu-benchmark DIR/nlu-benchmark`.

The files it writes are the samples the README's figures were measured on: `sha256sum
*/*.jsonl` matches bench/EVAL_DATA.md for every file but squad/tune.jsonl (the tuning rows;
its questions are the same 469, see EVAL_DATA.md). The samples are not part of the
repository and must not be committed (their licences are listed in EVAL_DATA.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import subprocess
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

AG = ("madhubandru/Text-Classification-on-News-Articles-using-BERT-Framework",
      "082f2db7c08a8fa3e19c46df0b4b5b0a5f81d1cd")  # fmt: skip
BBC = ("Miguel-G-Soares/PRI_proj1", "04750a1fb35aa0e2111e85416e8f54c088cf366a")
CNN = ("EileenFeng/Text-Summarization-NLP", "5bfee8b9ad6228e1c4d02f7be1042a4276632417")
SQUAD = ("VinACE/san_mrc", "74f10c582d3fb1249ef9559967dc9cb6c989acbe")
AIRLINE = ("MrColinHan/Twitter-US-Airline-Sentiment", "534528272d7a7de26e9059cbb0d63d76941b5cf5")
SNIPS = ("snipsco/nlu-benchmark", "b86ac7f1577868c42158d0dec77db50956046696")
AG_LABELS = ["World", "Sports", "Business", "Sci/Tech"]
BBC_TOPICS = ["business", "entertainment", "politics", "sport", "tech"]


def held_out(item_id: str) -> bool:
    return int(hashlib.sha1(item_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < 0.6


class Source:
    def __init__(self, sources: Path, repo: str, commit: str):
        owner, name = repo.split("/")
        candidates = [
            sources / name,
            sources / f"{name}.git",
            sources / f"{owner}+{name}" / "repo",
            sources / f"{owner}+{name}",
        ]
        for path in candidates:
            if path.exists():
                self.git_dir = path
                break
        else:
            raise SystemExit(
                f"No git copy of github.com/{repo} in {sources} (looked for "
                + ", ".join(str(c.name) for c in candidates[:2])
                + f"); clone it: git clone https://github.com/{repo} {sources / name}"
            )
        self.commit = commit

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(self.git_dir), *args], check=True, capture_output=True
        ).stdout

    def read(self, path: str) -> bytes:
        return self._git("show", f"{self.commit}:{path}")

    def names(self, folder: str) -> list[str]:
        return sorted(
            self._git("ls-tree", "--name-only", f"{self.commit}:{folder}").decode().split()
        )


def write(out: Path, name: str, sample: list[dict[str, Any]], extra: list[dict[str, Any]]) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    splits = {
        "heldout": [item for item in sample if held_out(item["id"])],
        "tune": [item for item in sample if not held_out(item["id"])] + extra,
    }
    for split, items in splits.items():
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{name}: {len(splits['heldout'])} held out, {len(splits['tune'])} for tuning")


def ag_news(sources: Path, out: Path) -> None:
    text = Source(sources, *AG).read("ag_news_csv/test.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))

    def item(i: int) -> dict[str, Any]:
        row = rows[i]
        # The CSV escapes line breaks as a backslash: a space, as in the figures' samples.
        body = (row["title"] + ". " + row["description"]).replace("\\", " ")
        return {"id": f"ag-test-{i}", "text": body, "label": AG_LABELS[int(row["label"]) - 1]}

    write(out, "ag_news", [item(i) for i in range(0, len(rows), 19)],
          [item(i) for i in range(9, len(rows), 19)])  # fmt: skip


def bbc_news(sources: Path, out: Path) -> None:
    source = Source(sources, *BBC)
    sample, extra = [], []
    for topic in BBC_TOPICS:
        files = source.names(f"BBC News Summary/News Articles/{topic}")
        step = len(files) // 40

        def item(file: str, topic: str = topic) -> dict[str, Any]:
            # Read as Latin-1, as the figures' samples were ("£" is then "Â£"; ROUGE drops it).
            raw = source.read(f"BBC News Summary/News Articles/{topic}/{file}").decode("latin-1")
            title, _, body = raw.partition("\n")
            summary = source.read(f"BBC News Summary/Summaries/{topic}/{file}").decode("latin-1")
            return {
                "id": f"bbc-{topic}-{int(file.split('.')[0]):03d}",
                "title": title,
                "text": body.strip(),
                "label": topic,
                "summary": summary,
            }

        sample += [item(f) for f in files[::step][:40]]
        extra += [item(f) for f in files[5::step][:40]]
    write(out, "bbc_news", sample, extra)


def cnn_dailymail(sources: Path, out: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(Source(sources, *CNN).read("data/train_sample.zip")))
    text = archive.read(archive.namelist()[0]).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    items = [{"id": r["id"], "text": r["article"], "highlights": r["highlights"]} for r in rows]
    write(out, "cnn_dailymail", items, [])


def squad(sources: Path, out: Path) -> None:
    data = json.loads(Source(sources, *SQUAD).read("dev-v1.1.json"))["data"]
    passages, questions = [], []
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            key = f"{article['title']}#{number}"
            passages.append({"id": key, "title": article["title"], "text": paragraph["context"]})
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    continue
                answers = sorted({a["text"] for a in qa["answers"]})
                questions.append(
                    {"id": qa["id"], "question": qa["question"], "passage": key, "answers": answers}
                )
    random.Random(11).shuffle(questions)
    (out / "squad").mkdir(parents=True, exist_ok=True)
    with open(out / "squad" / "passages.jsonl", "w", encoding="utf-8") as f:
        for passage in passages:
            f.write(json.dumps(passage, ensure_ascii=False) + "\n")
    write(out, "squad", questions[:400], questions[400:])


def airline_sentiment(sources: Path, out: Path) -> None:
    text = Source(sources, *AIRLINE).read("Kaggle_Tweets.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))

    def item(row: dict[str, str]) -> dict[str, Any]:
        return {"id": row["tweet_id"], "text": row["text"], "label": row["airline_sentiment"]}

    write(out, "airline_sentiment", [item(r) for r in rows[::24][:600]],
          [item(r) for r in rows[6::12][:1000]])  # fmt: skip


def snips_restaurant(sources: Path, out: Path) -> None:
    source = Source(sources, *SNIPS)
    folder = "2017-06-custom-intent-engines/BookRestaurant/"

    def load(file: str) -> list[dict[str, Any]]:
        # Read as Latin-1, as the figures' samples were (a few accented names differ).
        return json.loads(source.read(folder + file).decode("latin-1"))["BookRestaurant"]

    def item(prefix: str, index: int, chunks: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "id": f"{prefix}-{index}",
            "text": "".join(c["text"] for c in chunks).strip(),
            "slots": [[c["entity"], c["text"].strip()] for c in chunks if c.get("entity")],
        }

    validate = load("validate_BookRestaurant.json")
    train = load("train_BookRestaurant_full.json")
    sample = [item("validate", i, q["data"]) for i, q in enumerate(validate)]
    sample += [item("train", i, train[i]["data"]) for i in range(0, len(train), 6)[:300]]
    write(out, "snips_restaurant", sample, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="folder of git copies")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "eval-data")
    args = parser.parse_args()
    for build in (ag_news, bbc_news, cnn_dailymail, squad, airline_sentiment, snips_restaurant):
        build(args.sources, args.out)
    print(f"Written to {args.out}; check with: cd {args.out} && sha256sum */*.jsonl")


if __name__ == "__main__":
    main()
