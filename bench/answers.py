"""What a user reads: answer quality, refusals, invented figures and latency of the full `rag` graph.

Every question runs through the service's own answering path (`service.answering.rag_events`: the question
rewrite for follow-ups, retrieval, the answerability check, the prompt, the configured LLM, the citation check),
streamed as the OpenAI route streams it. Each configuration given with `--variant NAME:key=value,...` (dotted keys
of hayhooks.yml, as in bench/retrieval.py) is a column of one table, side by side with the base configuration.

Suites (`--suites`, all by default):
- `samples`: `samples/questions.yml` over `samples/corpus/`. An answer is **right** when every one of the question's
  `key_facts` appears in it, compared after normalisation (case, accents, punctuation, spaces inside numbers,
  decimal comma or dot) and it is not a refusal; an unanswerable question (`expected_source: null`) is **refused**
  when the answer holds the refusal sentence (« Les documents fournis ne contiennent pas cette information. »).
- `conversations`: `samples/conversations.yml`, follow-ups after earlier turns: the standalone question retrieval
  used names the right affair or document (one of `must_name`), and the answer is right (as above).
- `piaf`, `spf`: a sample of `../shared/bench/piaf-v1.1` and `../shared/bench/spf-qr` (answers.jsonl): the
  paragraphs of the answerable questions plus random distractors are indexed; unanswerable questions are mixed in
  (their paragraph is left out). Containment (a reference answer inside the answer) and token F1.
For every suite: answers holding a figure found in no passage given to the model (nor in the question), time to
first answer token and to the last one (p50 / p95), and decoding speed (answer tokens per second after the first).

    .venv/bin/python bench/answers.py                                   # every suite, the configured model
    .venv/bin/python bench/answers.py --suites samples conversations \\
        --variant "1.5b:models.llm.default=qwen2.5-coder-1.5b-instruct"

Indexes are built once per corpus and indexing configuration under /dev/shm (`--data-root`). vLLM caches prompt
prefixes: a second run of the same questions on one server gives a lower time to first token; compare latency on
the first run of a server, or read it from the first column only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haystack.dataclasses import ChatMessage  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from bench.formats_corpus import DOCUMENTS, build  # noqa: E402
from bench.retrieval import config_with, parse_variant  # noqa: E402
from components.builders.citations import CITATION_GROUP, numbers_in  # noqa: E402
from components.builders.closest_extract import EVIDENCE_LEAD, EXTRACT_LEAD  # noqa: E402
from components.builders.figures import unsupported_figures  # noqa: E402
from components.builders.statement_citer import NOT_IN_DOCUMENTS, split_statements, without_citations  # noqa: E402
from components.retrievers.access_scope import trust_callers_outside_requests  # noqa: E402
from service.answering import GenerationOptions, rag_events  # noqa: E402
from service.pipelines import bound_definition, build_pipeline  # noqa: E402
from service.settings import Settings  # noqa: E402

trust_callers_outside_requests()  # a benchmark runs the graphs itself, outside any request: trusted

SHARED = ROOT.parent / "shared" / "bench"
SAMPLES = ROOT / "samples"
SUITES = ("samples", "conversations", "piaf", "spf", "formats")
_ARTICLES = {"le", "la", "les", "l", "un", "une", "des", "du", "de", "d"}


# ---------------------------------------------------------------------------------------------- judging answers
def normalize(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, spaces collapsed; `631 592,50` and `631592.50` agree."""
    text = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=\d)[\s\u202f\u00a0.](?=\d{3}\b)", "", text)  # 100 000 / 100.000 -> 100000
    text = re.sub(r"(?<=\d)[.,](?=\d)", "d", text)  # decimal comma or dot, the same
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def contains(text: str, needle: str) -> bool:
    return bool(normalize(needle)) and f" {normalize(needle)} " in f" {normalize(text)} "


def tokens(text: str) -> list[str]:
    return [t for t in normalize(text).split() if t not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def statement_citations(answer: str, sources: list[dict[str, Any]], facts: list[str]) -> tuple[int, int, int, int]:
    """
    Citation recall and precision, ALCE style, judged apart from the product's own rule: a statement that states a
    reference fact (a key fact, else a reference answer) is supported when the passages it cites hold every such
    fact it states; one of its citations is needed when that passage holds at least one of them. Returns (fact
    statements, of them supported by their citations, their citations, of them holding a fact they state).
    """
    passages = {s.get("number"): f"{s.get('title') or ''}\n{s.get('text') or ''}" for s in sources}
    statements = supported = citations = needed = 0
    for statement in split_statements(answer):
        stated = [f for f in facts if contains(without_citations(statement), f)]
        if not stated:
            continue
        cited = [n for g in CITATION_GROUP.finditer(statement) for n in numbers_in(g.group(1)) if n in passages]
        statements += 1
        supported += all(any(contains(passages[n], f) for n in cited) for f in stated)
        citations += len(cited)
        needed += sum(any(contains(passages[n], f) for f in stated) for n in cited)
    return statements, supported, citations, needed


def is_refusal(answer: str) -> bool:
    return contains(answer, NOT_IN_DOCUMENTS)


def is_right(answer: str, key_facts: list[str]) -> bool:
    """Every key fact in the answer, and the answer is not a refusal."""
    return bool(key_facts) and not is_refusal(answer) and all(contains(answer, fact) for fact in key_facts)


_QUOTED_EVIDENCE = re.compile(rf"\n\n(?:{re.escape(EVIDENCE_LEAD)}|{re.escape(EXTRACT_LEAD)}) :.*", re.DOTALL)


def statement(answer: str) -> str:
    """The answer's own sentences: the quoted evidence line (« Extrait cité : ... ») that follows them cut off."""
    return _QUOTED_EVIDENCE.sub("", answer)


# ---------------------------------------------------------------------------------------------- configuration
def index_folder(name: str, files: Path, overrides: dict[str, Any], data_root: Path) -> Path:
    """The folder indexed by the real `rag index` into a data dir keyed by its files and the indexing graph."""
    base = config_with(overrides)
    digest = hashlib.sha256(json.dumps(bound_definition("indexing", Settings(**base)), sort_keys=True).encode())
    for path in sorted(files.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    data_dir = data_root / f"rag-answers-{name}-{digest.hexdigest()[:12]}"
    config_file = data_dir / "hayhooks.yml"
    if not (data_dir / "indexed").is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        config_file.write_text(yaml.safe_dump(config_with({**overrides, "stores.data_dir": str(data_dir)})))
        started = time.monotonic()
        done = subprocess.run(  # a child process: the embedded Qdrant locks its folder until its process ends
            [sys.executable, "-m", "service", "index", str(files)],
            env={**os.environ, "RAG_CONFIG": str(config_file)},
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise SystemExit(f"indexing {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        (data_dir / "indexed").write_text("ok")
        print(f"index {name}: {time.monotonic() - started:.0f} s ({data_dir})", flush=True)
    return data_dir


# ---------------------------------------------------------------------------------------------- the questions
@dataclass
class Case:
    suite: str
    question: str
    answers: list[str]  # reference answers (containment, F1)
    key_facts: list[str] = field(default_factory=list)  # samples: what a right answer must hold
    expected_source: str | None = None
    answerable: bool = True
    kind: str = ""  # samples: question_chiffree | fiche_identite | autre
    history: list[tuple[str, str]] = field(default_factory=list)  # (user, assistant) earlier turns
    must_name: list[str] = field(default_factory=list)


def sample_cases() -> list[Case]:
    rows = yaml.safe_load((SAMPLES / "questions.yml").read_text(encoding="utf-8"))
    return [
        Case(
            "samples",
            r["question"],
            [r["answer"]],
            list(r.get("key_facts") or []),
            r.get("expected_source"),
            r.get("expected_source") is not None,
            r.get("kind", ""),
        )
        for r in rows
    ]


def format_cases(folder: Path) -> list[Case]:
    """The generated mixed-format folder's questions (bench/formats_corpus.py), each file's format as its kind."""
    if not (folder / "questions.yml").is_file():
        build(folder)
    rows = yaml.safe_load((folder / "questions.yml").read_text(encoding="utf-8"))
    return [
        Case(
            "formats",
            r["question"],
            [r["answer"]],
            list(r.get("key_facts") or []),
            r.get("expected_source"),
            r.get("expected_source") is not None,
            r.get("format", ""),
        )
        for r in rows
    ]


def conversation_cases() -> list[Case]:
    rows = yaml.safe_load((SAMPLES / "conversations.yml").read_text(encoding="utf-8"))
    return [
        Case(
            "conversations",
            r["question"],
            [r["answer"]],
            list(r.get("key_facts") or []),
            r.get("expected_source"),
            True,
            history=[(t["user"], t["assistant"]) for t in r["turns"]],
            must_name=list(r.get("must_name") or []),
        )
        for r in rows
    ]


def _read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return {row["_id"]: row for row in map(json.loads, f)}


def beir_cases(  # noqa: PLR0917
    suite: str, sample: int, unanswerable: int, distractors: int, seed: int, folder: Path
) -> list[Case]:
    """Questions with a reference answer, one per paragraph; the paragraphs to index are written to `folder`."""
    dataset = SHARED / {"piaf": "piaf-v1.1", "spf": "spf-qr"}[suite]
    corpus, queries = _read_jsonl(dataset / "corpus.jsonl"), _read_jsonl(dataset / "queries.jsonl")
    answers = _read_jsonl(dataset / "answers.jsonl")
    qrels: dict[str, str] = {}
    for line in (dataset / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc_id, _ = line.split("\t")
        qrels[query_id] = doc_id
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    candidates = sorted(q for q in queries if q in answers and q in qrels and len(queries[q]["text"].split()) >= 5)
    rng.shuffle(candidates)
    picked: list[str] = []
    used: set[str] = set()
    for query_id in candidates:
        if qrels[query_id] not in used:
            picked.append(query_id)
            used.add(qrels[query_id])
        if len(picked) == sample + unanswerable:
            break
    answerable, missing = picked[:sample], picked[sample:]
    needed, left_out = {qrels[q] for q in answerable}, {qrels[q] for q in missing}
    others = sorted(d for d in corpus if d not in needed and d not in left_out)
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id in sorted(needed) + rng.sample(others, min(distractors, len(others))):
        row = corpus[doc_id]
        front = yaml.safe_dump({"title": row.get("title") or doc_id}, allow_unicode=True)
        (folder / f"{doc_id}.md").write_text(f"---\n{front}---\n\n{row['text']}\n", encoding="utf-8")
    return [
        Case(suite, queries[q]["text"], answers[q]["answers"], [], f"{qrels[q]}.md", q in answerable)
        for q in answerable + missing
    ]


# ---------------------------------------------------------------------------------------------- running
@dataclass
class Result:
    case: Case
    answer: str = ""
    standalone: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    error: str | None = None
    ttft: float | None = None
    ttlt: float = 0.0
    answer_tokens: int = 0

    @property
    def refused(self) -> bool:
        return is_refusal(self.answer)

    @property
    def right(self) -> bool:
        return is_right(self.answer, self.case.key_facts)

    @property
    def right_statement(self) -> bool:
        """Right on the sentences a person reads as the answer, the quoted evidence line left out."""
        return is_right(statement(self.answer), self.case.key_facts)

    @property
    def contained(self) -> bool:
        return not self.refused and any(contains(self.answer, a) for a in self.case.answers)

    @property
    def f1(self) -> float:
        return max((token_f1(self.answer, a) for a in self.case.answers), default=0.0)

    @property
    def invented_figures(self) -> list[str]:
        if self.refused:
            return []
        passages = [s.get("text") or "" for s in self.sources] + [s.get("title") or "" for s in self.sources]
        return unsupported_figures(self.answer, passages, self.case.question)

    @property
    def retrieved(self) -> bool:
        expected = self.case.expected_source
        return bool(expected) and any(  # an attachment's source is "<mail>/<attachment>"
            Path(str(s.get("source", ""))).name == expected or str(s.get("source", "")).endswith(f"/{expected}")
            for s in self.sources
        )

    @property
    def in_passages(self) -> bool:
        """Every key fact (or a reference answer) is in the passages given to the model: reading can be right."""
        return self.holds_answer({"text": "\n".join(str(s.get("text") or "") for s in self.sources)})

    @property
    def facts(self) -> list[str]:
        """What the passage holding the answer must contain: the key facts, else the reference answers."""
        return self.case.key_facts or self.case.answers

    def holds_answer(self, source: dict[str, Any]) -> bool:
        """Judged apart from the product's own rule: the passage holds every key fact (or a reference answer)."""
        text = f"{source.get('title') or ''}\n{source.get('text') or ''}"
        if self.case.key_facts:
            return all(contains(text, fact) for fact in self.case.key_facts)
        return any(contains(text, answer) for answer in self.case.answers)

    @property
    def cited(self) -> list[dict[str, Any]]:
        return [s for s in self.sources if s.get("cited")]

    @property
    def statement_citations(self) -> tuple[int, int, int, int]:
        return (0, 0, 0, 0) if self.refused else statement_citations(self.answer, self.sources, self.facts)

    @property
    def names_entity(self) -> bool:
        return any(contains(self.standalone, name) for name in self.case.must_name)


class Variant:
    def __init__(self, name: str, overrides: dict[str, Any]) -> None:
        self.name, self.overrides = name, overrides
        self.settings = Settings(**config_with(overrides))

    def graphs(self, data_dir: Path) -> tuple[Any, Any]:
        settings = Settings(**config_with({**self.overrides, "stores.data_dir": str(data_dir)}))
        rag = build_pipeline("rag", settings)
        rag.warm_up()
        rewriter = (
            build_pipeline("question_rewrite", settings) if settings.generation.history.rewrite_questions else None
        )
        if rewriter is not None:
            rewriter.warm_up()
        return rag, rewriter

    def options(self, history: list[tuple[str, str]]) -> GenerationOptions:
        backend = self.settings.llm_backend()
        turns: list[ChatMessage] = []
        for user, assistant in history:
            turns += [ChatMessage.from_user(user), ChatMessage.from_assistant(assistant)]
        return GenerationOptions(
            backend=None,
            prompted_thinking=backend.thinking == "prompted",
            include_passage_text=True,
            history=turns,
        )


async def ask(rag: Any, rewriter: Any, variant: Variant, case: Case, count_tokens: Any) -> Result:
    result = Result(case)
    started = time.monotonic()
    history = variant.settings.generation.history
    async for event in rag_events(
        rag,
        case.question,
        options=variant.options(case.history),
        rewriter=rewriter,
        rewrite_max_tokens=history.rewrite_max_tokens,
    ):
        now = time.monotonic() - started
        if event.type == "context":
            result.standalone = event.data["question"]
        elif event.type == "response" and event.data.strip():
            result.ttft = now if result.ttft is None else result.ttft
        elif event.type == "answer":
            result.answer, result.sources = event.data.answer, event.data.sources
            result.unsupported = list(event.data.unsupported)
        elif event.type == "error":
            result.error = str(event.data)
    result.ttlt = time.monotonic() - started
    result.answer_tokens = count_tokens(result.answer)
    return result


# ---------------------------------------------------------------------------------------------- the table
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f} %)" if whole else "n/a"


def suite_rows(suite: str, results: list[Result]) -> list[tuple[str, str]]:
    ok = [r for r in results if r.error is None]
    answerable = [r for r in ok if r.case.answerable]
    unanswerable = [r for r in ok if not r.case.answerable]
    rows = [("LLM failures", share(len(results) - len(ok), len(results)))]
    if suite in ("samples", "conversations", "formats"):
        rows.append(
            (
                "answerable: right, judged on the statement",
                share(sum(r.right_statement for r in answerable), len(answerable)),
            )
        )
        rows.append(
            ("answerable: right, evidence line included", share(sum(r.right for r in answerable), len(answerable)))
        )
    if suite in ("piaf", "spf"):
        rows.append(("answerable: contains a reference", share(sum(r.contained for r in answerable), len(answerable))))
        f1 = statistics.mean([r.f1 for r in answerable]) if answerable else float("nan")
        rows.append(("answerable: token F1 (mean)", f"{f1:.3f}"))
    if suite == "conversations":
        rows.append(("standalone question names the entity", share(sum(r.names_entity for r in ok), len(ok))))
    rows += [
        ("answerable: refused", share(sum(r.refused for r in answerable), len(answerable))),
        ("answerable: answer's document among sources", share(sum(r.retrieved for r in answerable), len(answerable))),
        (
            "answerable: the answer in the passages given",
            share(sum(r.in_passages for r in answerable), len(answerable)),
        ),
        (
            "answerable, answer in the passages: right",
            share(
                sum((r.right if r.case.key_facts else r.contained) for r in answerable if r.in_passages),
                sum(r.in_passages for r in answerable),
            ),
        ),
    ]
    if unanswerable:
        rows.append(("unanswerable: refused", share(sum(r.refused for r in unanswerable), len(unanswerable))))
    rows.append(("answers with a figure in no passage", share(sum(bool(r.invented_figures) for r in ok), len(ok))))
    answered = [r for r in ok if not r.refused]
    good = [r for r in answerable if (r.right if r.case.key_facts else r.contained)]
    rows.append(("answers with ≥1 citation", share(sum(bool(r.cited) for r in answered), len(answered))))
    rows.append(
        (
            "right answers citing the passage that holds it",
            share(sum(any(map(r.holds_answer, r.cited)) for r in good), len(good)),
        )
    )
    citations = [(r, s) for r in good for s in r.cited]
    rows.append(
        (
            "citations of right answers that hold the answer",
            share(sum(r.holds_answer(s) for r, s in citations), len(citations)),
        )
    )
    judged = [r.statement_citations for r in answered]
    statements, supported, cites, needed = (sum(j[i] for j in judged) for i in range(4))
    rows.append(("citation recall (statements stating a reference fact)", share(supported, statements)))
    rows.append(("citation precision (their citations holding it)", share(needed, cites)))
    all_statements = sum(len(split_statements(r.answer)) for r in answered)
    rows.append(("statements marked unsupported", share(sum(len(r.unsupported) for r in answered), all_statements)))
    rows.append(
        ("refusals with a citation", share(sum(bool(r.cited) for r in ok if r.refused), sum(r.refused for r in ok)))
    )
    ttft = [r.ttft for r in ok if r.ttft is not None]
    ttlt = [r.ttlt for r in ok]
    speeds = [
        r.answer_tokens / (r.ttlt - r.ttft)
        for r in ok
        if r.ttft is not None and r.ttlt - r.ttft > 0.5 and not r.refused
    ]
    rows += [
        ("time to first token p50 / p95 (s)", f"{percentile(ttft, 0.5):.1f} / {percentile(ttft, 0.95):.1f}"),
        ("time to last token p50 / p95 (s)", f"{percentile(ttlt, 0.5):.1f} / {percentile(ttlt, 0.95):.1f}"),
        ("decoding tokens/s (median)", f"{statistics.median(speeds):.1f}" if speeds else "n/a"),
    ]
    return rows


def print_table(suites: list[str], columns: dict[str, dict[str, list[Result]]]) -> None:
    names = list(columns)
    print("\n| suite | measure | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for suite in suites:
        per_variant = [dict(suite_rows(suite, columns[n][suite])) for n in names if suite in columns[n]]
        if not per_variant:
            continue
        count = len(columns[names[0]][suite])
        for measure in per_variant[0]:
            cells = " | ".join(v.get(measure, "") for v in per_variant)
            print(f"| {suite} ({count}) | {measure} | {cells} |")
    if "formats" in suites:
        for name in names:
            print_per_format(name, columns[name].get("formats", []))


def print_per_format(variant: str, results: list[Result]) -> None:
    """The formats suite by the format of the file holding the answer: does each format answer as well as Markdown?"""
    print(
        f"\n{variant}: by format | answerable | right (statement) | right (evidence incl.) | refused | "
        "unanswerable refused |"
    )
    print("|---|---|---|---|---|---|")
    for kind in sorted({r.case.kind for r in results}):
        group = [r for r in results if r.case.kind == kind and r.error is None]
        answerable = [r for r in group if r.case.answerable]
        unanswerable = [r for r in group if not r.case.answerable]
        print(
            f"| {kind} | {len(answerable)} | {share(sum(r.right_statement for r in answerable), len(answerable))} | "
            f"{share(sum(r.right for r in answerable), len(answerable))} | "
            f"{share(sum(r.refused for r in answerable), len(answerable))} | "
            f"{share(sum(r.refused for r in unanswerable), len(unanswerable)) if unanswerable else ''} |"
        )


async def run(args: argparse.Namespace) -> None:
    variants = ([] if args.skip_default else [Variant("default", {})]) + [
        Variant(*parse_variant(v)) for v in args.variant
    ]
    if not variants:
        raise SystemExit("--skip-default needs at least one --variant")
    tokenizer_dir = variants[0].settings.resolve_path(variants[0].settings.generation.tokenizer)
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))

    def count_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    cases: dict[str, list[Case]] = {}
    folders: dict[str, Path] = {}
    for suite in args.suites:
        if suite == "samples":
            cases[suite], folders[suite] = sample_cases(), SAMPLES / "corpus"
        elif suite == "conversations":
            cases[suite], folders[suite] = conversation_cases(), SAMPLES / "corpus"
        elif suite == "formats":
            folder = args.data_root / "rag-answers-formats-docs"
            cases[suite], folders[suite] = format_cases(folder), folder / DOCUMENTS
        else:
            folder = args.data_root / f"rag-answers-{suite}-docs-{args.seed}-{args.sample}-{args.distractors}"
            cases[suite] = beir_cases(suite, args.sample, args.unanswerable, args.distractors, args.seed, folder)
            folders[suite] = folder
        if args.kind:
            cases[suite] = [c for c in cases[suite] if c.kind in args.kind]
        if args.limit:
            cases[suite] = cases[suite][: args.limit]

    columns: dict[str, dict[str, list[Result]]] = {}
    dump: list[dict[str, Any]] = []
    for variant in variants:
        columns[variant.name] = {}
        for suite in args.suites:
            indexing_overrides = {k: v for k, v in variant.overrides.items() if k.startswith("indexing.")}
            data_dir = index_folder(
                suite.replace("conversations", "samples"), folders[suite], indexing_overrides, args.data_root
            )
            rag, rewriter = variant.graphs(data_dir)
            results = []
            for i, case in enumerate(cases[suite], start=1):
                result = await ask(rag, rewriter, variant, case, count_tokens)
                results.append(result)
                verdict = (
                    "REFUSED"
                    if result.refused
                    else "right"
                    if result.right
                    else "contained"
                    if result.contained
                    else "-"
                )
                print(
                    f"[{variant.name} {suite} {i:2d}] {result.ttlt:5.1f}s {verdict:9s} {case.question[:55]!r}"
                    + (f" => {result.standalone[:60]!r}" if case.history else "")
                    + f" -> {result.answer[:90]!r}",
                    flush=True,
                )
                dump.append(
                    {
                        "variant": variant.name,
                        "suite": suite,
                        "question": case.question,
                        "standalone": result.standalone,
                        "answer": result.answer,
                        "reference": case.answers[0],
                        "references": case.answers,
                        "expected_source": case.expected_source,
                        "must_name": case.must_name,
                        "answer_tokens": result.answer_tokens,
                        "key_facts": case.key_facts,
                        "answerable": case.answerable,
                        "right": result.right,
                        "right_statement": result.right_statement,
                        "kind": case.kind,
                        "refused": result.refused,
                        "contained": result.contained,
                        "retrieved": result.retrieved,
                        "in_passages": result.in_passages,
                        "invented_figures": result.invented_figures,
                        "ttft": result.ttft,
                        "ttlt": result.ttlt,
                        "facts": result.facts,
                        "unsupported": result.unsupported,
                        "sources": [
                            {k: s.get(k) for k in ("number", "source", "cited", "title", "text")}
                            for s in result.sources
                        ],
                        "error": result.error,
                    }
                )
                if args.out:  # after every answer: a run stopped midway keeps what it measured
                    Path(args.out).write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
            columns[variant.name][suite] = results
    print("\nmodels: " + ", ".join(f"{v.name} = {v.settings.models.llm.default}" for v in variants))
    print_table(args.suites, columns)


def table_from(path: Path) -> None:
    """The table of a recorded run (`--out`), for instance one stopped before its end."""
    columns: dict[str, dict[str, list[Result]]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        case = Case(
            row["suite"],
            row["question"],
            row.get("references") or [row["reference"]],
            row["key_facts"],
            row.get("expected_source"),
            row["answerable"],
            must_name=row.get("must_name") or [],
        )
        result = Result(
            case,
            row["answer"],
            row["standalone"],
            row["sources"],
            row.get("unsupported") or [],
            row["error"],
            row["ttft"],
            row["ttlt"],
            row.get("answer_tokens", 0),
        )
        columns.setdefault(row["variant"], {}).setdefault(row["suite"], []).append(result)
    suites = [s for s in SUITES if any(s in c for c in columns.values())]
    print_table(suites, columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--sample", type=int, default=24, help="piaf/spf: answerable questions")
    parser.add_argument("--unanswerable", type=int, default=6, help="piaf/spf: questions whose paragraph is left out")
    parser.add_argument("--distractors", type=int, default=40, help="piaf/spf: other paragraphs indexed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kind", nargs="+", help="samples: only the questions of these kinds")
    parser.add_argument("--skip-default", action="store_true", help="only the --variant columns")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions of each suite only")
    parser.add_argument("--data-root", type=Path, default=Path("/dev/shm"))  # noqa: S108 (a benchmark scratch dir)
    parser.add_argument("--out", help="write every answer as JSON here")
    parser.add_argument("--table-from", type=Path, metavar="FILE", help="print the table of a recorded --out file")
    args = parser.parse_args()
    if args.table_from:
        table_from(args.table_from)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
