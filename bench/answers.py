"""Answer quality and latency of the full `rag` graph with the configured LLM, on PIAF questions.

A sample of `../shared/bench/piaf-v1.1` questions (which carry reference answers) is answered end to end: the
paragraphs they need plus random distractors are indexed by the real indexing command into a temporary data dir,
then each question runs through the `rag` graph as the service runs it (streamed, citations checked). A few
questions whose paragraph is left out of the index measure how often the model says the documents do not hold the
answer (the exact sentence the prompts ask for) instead of inventing one.

Printed: answer containment and token F1 against the references, citation precision (share of cited passages
that contain a reference answer), share of answers with at least one valid citation, refusal rates, time to first
answer token and to last token (p50/p95).

    .venv/bin/python bench/answers.py --sample 24 --unanswerable 6 --distractors 60

Latency: vLLM caches prompt prefixes, so running the same sample (same --seed) twice on one server gives a much
lower time to first token the second time; compare runs on a fresh server or change the seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.answering import NOT_IN_DOCUMENTS, GenerationOptions, rag_events  # noqa: E402
from service.pipelines import build_pipeline  # noqa: E402
from service.settings import load_settings  # noqa: E402

DATASET = ROOT.parent / "shared" / "bench" / "piaf-v1.1"
_ARTICLES = {"le", "la", "les", "l", "un", "une", "des", "du", "de", "d"}


def normalize(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, spaces collapsed (digit groups stay together)."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=\d)[\s\u202f\u00a0.](?=\d{3}\b)", "", text)  # 100 000 / 100.000 -> 100000
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return [t for t in normalize(text).split() if t not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(text: str, references: list[str]) -> bool:
    haystack = f" {normalize(text)} "
    return any(f" {normalize(r)} " in haystack for r in references if normalize(r))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return {row["_id"]: row for row in map(json.loads, f)}


def choose(sample: int, unanswerable: int, distractors: int, seed: int) -> tuple[list, list, list]:
    """(answerable questions, unanswerable questions, paragraphs to index)."""
    corpus = read_jsonl(DATASET / "corpus.jsonl")
    queries = read_jsonl(DATASET / "queries.jsonl")
    answers = read_jsonl(DATASET / "answers.jsonl")
    qrels: dict[str, str] = {}
    for line in (DATASET / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc_id, _ = line.split("\t")
        qrels[query_id] = doc_id
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    # Questions that stand alone (at least 6 words) and have a reference answer, one per paragraph.
    candidates = [q for q in queries if q in answers and q in qrels and len(queries[q]["text"].split()) >= 6]
    rng.shuffle(candidates)
    picked: list[str] = []
    used_docs: set[str] = set()
    for query_id in candidates:
        if qrels[query_id] not in used_docs:
            picked.append(query_id)
            used_docs.add(qrels[query_id])
        if len(picked) == sample + unanswerable:
            break
    answerable, missing = picked[:sample], picked[sample:]
    needed = {qrels[q] for q in answerable}
    left_out = {qrels[q] for q in missing}
    others = [d for d in corpus if d not in needed and d not in left_out]
    indexed = sorted(needed) + rng.sample(others, distractors)

    def question(q: str) -> dict[str, Any]:
        return {"id": q, "text": queries[q]["text"], "answers": answers[q]["answers"], "doc": qrels[q]}

    return [question(q) for q in answerable], [question(q) for q in missing], [corpus[d] for d in indexed]


def index(paragraphs: list[dict[str, Any]], workdir: Path) -> Path:
    """Index the paragraphs (one Markdown file each) with the real `rag index`; returns the config to use."""
    docs = workdir / "docs"
    docs.mkdir()
    for row in paragraphs:
        title = row.get("title") or row["_id"]
        front = yaml.safe_dump({"title": title}, allow_unicode=True)
        (docs / f"{row['_id']}.md").write_text(f"---\n{front}---\n\n{row['text']}\n", encoding="utf-8")
    config = yaml.safe_load((ROOT / "hayhooks.yml").read_text(encoding="utf-8"))
    config["stores"]["data_dir"] = str(workdir / "data")
    config_path = workdir / "hayhooks.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service", "index", str(docs)],
        env={**os.environ, "RAG_CONFIG": str(config_path)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"indexing failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    print(f"indexed {len(paragraphs)} paragraphs in {time.monotonic() - started:.0f} s", flush=True)
    return config_path


async def answer(pipeline: Any, question: str, options: GenerationOptions) -> dict[str, Any]:
    started = time.monotonic()
    first = last = None
    result: dict[str, Any] = {"answer": "", "sources": [], "error": None}
    async for event in rag_events(pipeline, question, options=options):
        now = time.monotonic() - started
        if event.type == "response":
            first = now if first is None else first
            last = now
        elif event.type == "thinking":
            last = now
        elif event.type == "answer":
            result.update(answer=event.data.answer, sources=event.data.sources, thinking=event.data.thinking)
        elif event.type == "error":
            result["error"] = event.data
    result.update(ttft=first, ttlt=last if last is not None else time.monotonic() - started)
    return result


def report(rows: list[dict[str, Any]], missing_rows: list[dict[str, Any]], model: str) -> None:
    ok = [r for r in rows if r["error"] is None]
    cited = [s for r in ok for s in r["sources"] if s["cited"]]
    precise = [s for r in ok for s in r["sources"] if s["cited"] and contains(s.get("text") or "", r["answers"])]
    retrieved = [r for r in ok if any(contains(s.get("text") or "", r["answers"]) for s in r["sources"])]
    ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
    ttlt = [r["ttlt"] for r in ok]
    refused = [r for r in ok if NOT_IN_DOCUMENTS in r["answer"]]
    missing_ok = [r for r in missing_rows if r["error"] is None]
    complied = [r for r in missing_ok if NOT_IN_DOCUMENTS in r["answer"]]
    invented = [r for r in missing_ok if contains(r["answer"], r["answers"])]

    def pct(part: list, whole: list) -> str:
        return f"{100 * len(part) / len(whole):5.1f} % ({len(part)}/{len(whole)})" if whole else "n/a"

    lines = [
        f"model: {model} — {len(rows)} answerable questions ({len(rows) - len(ok)} LLM failures), "
        f"{len(missing_rows)} whose paragraph is not indexed",
        "",
        "| measure | value |",
        "|---|---|",
        f"| answer contains a reference answer | {pct([r for r in ok if contains(r['answer'], r['answers'])], ok)} |",
        f"| token F1 vs references (mean of max) | {statistics.mean([max(token_f1(r['answer'], a) for a in r['answers']) for r in ok] or [0]):.3f} |",  # noqa: E501
        f"| a passage given to the LLM contains the answer | {pct(retrieved, ok)} |",
        f"| answers with ≥1 valid citation | {pct([r for r in ok if any(s['cited'] for s in r['sources'])], ok)} |",
        f"| citation precision (cited passages holding the answer) | {pct(precise, cited)} |",
        f"| answerable questions refused (« {NOT_IN_DOCUMENTS[:30]}… ») | {pct(refused, ok)} |",
        f"| unanswerable: exact refusal sentence | {pct(complied, missing_ok)} |",
        f"| unanswerable: reference answer given anyway | {pct(invented, missing_ok)} |",
        f"| time to first answer token p50 / p95 | {percentile(ttft, 0.5):.1f} s / {percentile(ttft, 0.95):.1f} s |",
        f"| time to last token p50 / p95 | {percentile(ttlt, 0.5):.1f} s / {percentile(ttlt, 0.95):.1f} s |",
    ]
    print("\n".join(lines))


async def run(args: argparse.Namespace) -> None:
    answerable, missing, paragraphs = choose(args.sample, args.unanswerable, args.distractors, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        config = index(paragraphs, Path(tmp))
        settings = load_settings(config)
        pipeline = build_pipeline("rag", settings)
        pipeline.warm_up()
        backend = settings.llm_backend()
        options = GenerationOptions(
            enable_thinking=args.thinking,
            prompted_thinking=backend.thinking == "prompted",
            include_passage_text=True,
            generation_kwargs={"max_tokens": args.max_tokens},
        )
        rows, missing_rows = [], []
        for group, out in ((answerable, rows), (missing, missing_rows)):
            for q in group:
                result = await answer(pipeline, q["text"], options)
                out.append({**q, **result})
                print(
                    f"[{len(rows) + len(missing_rows):2d}] {result['ttlt']:5.1f} s  {q['text'][:60]!r} -> "
                    f"{result['answer'][:70]!r}  (ref {q['answers'][0][:30]!r})",
                    flush=True,
                )
        if args.out:
            Path(args.out).write_text(json.dumps(rows + missing_rows, ensure_ascii=False, indent=1), encoding="utf-8")
        print()
        report(rows, missing_rows, backend.model + (" (thinking on)" if args.thinking else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=24, help="answerable questions")
    parser.add_argument("--unanswerable", type=int, default=6, help="questions whose paragraph is not indexed")
    parser.add_argument("--distractors", type=int, default=60, help="other paragraphs indexed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--thinking", action="store_true", help="answer with thinking on")
    parser.add_argument("--out", help="write every answer as JSON here")
    args = parser.parse_args()
    if not (DATASET / "answers.jsonl").is_file():
        raise SystemExit(f"{DATASET} not found (see ../shared/bench/README.md)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
