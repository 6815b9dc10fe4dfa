"""The citation step's settings chosen on recorded answers, without asking the LLM again.

Reads the answers `bench/answers.py --out FILE` wrote (each with the passages the model was given), takes every
citation out of each answer, and cites it again with the product's `CitedAnswerBuilder` under each setting given
(`--setting NAME:key=value,...`, keys of `generation.citations`). One column per setting; the rows are judged apart
from the product's own rule, by the reference facts (`bench/answers.statement_citations`):
- citation recall: statements stating a reference fact whose cited passages hold every fact they state;
- citation precision: citations of those statements whose passage holds a fact the statement states;
- right answers citing a passage that holds the whole answer (every key fact, or a reference answer);
- answers with at least one citation, statements marked unsupported, and the step's time per answer (p50 / max).

    .venv/bin/python bench/citations.py var/bench/samples.json \\
        --setting "every:min_relative_support=0" --setting "best:min_relative_support=1"

The model's own `[n]` are removed before citing, so every citation here is attributed: what the step does when the
model cites nothing (the usual case with the packaged models; bench/answers.py measures the whole path).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haystack import Document  # noqa: E402
from haystack.dataclasses import ChatMessage  # noqa: E402

from bench.answers import contains, is_refusal, is_right, share, statement_citations  # noqa: E402
from bench.retrieval import config_with, parse_variant  # noqa: E402
from components.builders.cited_answer_builder import CitedAnswerBuilder  # noqa: E402
from components.builders.statement_citer import split_statements, without_citations  # noqa: E402


def holds(source: dict[str, Any], row: dict[str, Any]) -> bool:
    text = f"{source.get('title') or ''}\n{source.get('text') or ''}"
    if row["key_facts"]:
        return all(contains(text, fact) for fact in row["key_facts"])
    return any(contains(text, answer) for answer in [row["reference"]])


def column(rows: list[dict[str, Any]], builder: CitedAnswerBuilder) -> dict[str, str]:
    answered = [r for r in rows if not is_refusal(r["answer"]) and r["sources"] and "text" in r["sources"][0]]
    timings, judged, with_citation, unsupported, statements = [], [], 0, 0, 0
    right, right_citing = 0, 0
    for row in answered:
        documents = [Document(content=s.get("text") or "", meta={"title": s.get("title")}) for s in row["sources"]]
        bare = "".join(without_citations(piece) for piece in split_statements(row["answer"]))
        started = time.perf_counter()
        out = builder.run(replies=[ChatMessage.from_assistant(bare)], documents=documents)
        timings.append(time.perf_counter() - started)
        sources = [
            dict(s, text=d.content, title=d.meta["title"]) for s, d in zip(out["sources"], documents, strict=True)
        ]
        cited = [s for s in sources if s["cited"]]
        judged.append(statement_citations(out["answer"], sources, row.get("facts") or row["key_facts"]))
        with_citation += bool(cited)
        unsupported += len(out["unsupported"])
        statements += len(split_statements(out["answer"]))
        if row["answerable"] and (is_right(out["answer"], row["key_facts"]) if row["key_facts"] else row["contained"]):
            right += 1
            right_citing += any(holds(s, row) for s in cited)
    fact_statements, supported, citations, needed = (sum(j[i] for j in judged) for i in range(4))
    return {
        "citation recall (statements stating a reference fact)": share(supported, fact_statements),
        "citation precision (their citations holding it)": share(needed, citations),
        "right answers citing the passage that holds it": share(right_citing, right),
        "answers with ≥1 citation": share(with_citation, len(answered)),
        "statements marked unsupported": share(unsupported, statements),
        "citation step per answer p50 / max (ms)": (
            f"{1000 * statistics.median(timings):.1f} / {1000 * max(timings):.1f}" if timings else "n/a"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("answers", type=Path, help="a JSON file written by bench/answers.py --out")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--variant", help="only the answers of this column of the run (default: its first)")
    args = parser.parse_args()
    rows = json.loads(args.answers.read_text(encoding="utf-8"))
    variant = args.variant or rows[0]["variant"]
    rows = [r for r in rows if r["variant"] == variant]
    configured = config_with({})["generation"]["citations"]
    settings = [("configured", {})] + [parse_variant(s) for s in args.setting]
    columns = {}
    for name, values in settings:
        merged = {**configured, **values}
        builder = CitedAnswerBuilder(
            min_overlap=merged["min_overlap"],
            min_overlap_with_figures=merged["min_overlap_with_figures"],
            max_citations=merged["max_citations"],
            min_relative_support=merged["min_relative_support"],
        )
        columns[name] = column(rows, builder)
    print(f"\nanswers of column {variant!r} in {args.answers} ({len(rows)} questions); configured: {configured}")
    print("\n| measure | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for measure in next(iter(columns.values())):
        print(f"| {measure} | " + " | ".join(c[measure] for c in columns.values()) + " |")


if __name__ == "__main__":
    main()
