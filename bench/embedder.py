"""
The document embedder alone: chunks/s of the float32 torch embedder (sentence-transformers, what the indexing graph
ran before the int8 encoder) and of ONNX encoders, on the same chunks, with how close their embeddings are.

    .venv/bin/python bench/embedder.py                       # 40 documents of each shared set, 3 rounds
    .venv/bin/python bench/embedder.py --limit 20 --rounds 5 --onnx-file onnx/model_qint8.onnx --threads 1
    .venv/bin/python bench/embedder.py --torch-int8 --onnx-file onnx/model_qint8.onnx --onnx-file onnx/other.onnx

The chunks are the indexing graph's own (every node up to `figure_detector`, on the first `--limit` documents of
each BEIR set written as Markdown files), embedded with the graph's prefix and metadata fields. Each round embeds
all of them once with every variant, one variant after the other, so that the machine's load affects all alike;
the table gives the median chunks/s over the rounds, its ratio to float32 torch's (and the median of the rounds'
own ratios, steadier when the load drifts), and the cosine of each chunk's embedding to float32 torch's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from haystack import Document  # noqa: E402
from haystack_integrations.components.embedders.sentence_transformers import (  # noqa: E402
    SentenceTransformersDocumentEmbedder,
)

from components.embedders.onnx_document_embedder import OnnxDocumentEmbedder  # noqa: E402
from service.pipelines import build_pipeline  # noqa: E402
from service.settings import Settings, load_settings  # noqa: E402

SHARED_BENCH = PROJECT_ROOT.parent / "shared" / "bench"
DEFAULT_SETS = ["spf-qr", "piaf-v1.1", "cnil-faq"]


def graph_chunks(settings: Settings, sets: list[Path], limit: int) -> list[Document]:
    """The chunks the indexing graph hands its `document_embedder`, for the first `limit` documents of each set."""
    with tempfile.TemporaryDirectory(prefix="btp-rag-embedder-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        for dataset in sets:  # `# title`, then the text, as bench/indexing.py writes them
            (corpus / dataset.name).mkdir(parents=True)
            with (dataset / "corpus.jsonl").open(encoding="utf-8") as f:
                for i, line in zip(range(limit), f, strict=False):
                    doc = json.loads(line)
                    title = (doc.get("title") or "").strip()
                    text = f"# {title}\n\n{doc['text']}\n" if title else f"{doc['text']}\n"
                    (corpus / dataset.name / f"{i}.md").write_text(text, encoding="utf-8")
        pipeline = build_pipeline("indexing", settings)
        for name in ("document_embedder", "vector_writer", "bm25_writer"):
            pipeline.remove_component(name)
        files = sorted(str(p) for p in corpus.rglob("*.md"))
        inputs = {"sources": files, "roots": [str(corpus)]}
        return pipeline.run(inputs, include_outputs_from={"figure_detector"})["figure_detector"]["documents"]


def variants(settings: Settings, onnx_files: list[str], threads: int, torch_int8: bool) -> dict[str, Any]:
    """float32 torch (the indexing graph's embedder before), torch's dynamic int8 and one ONNX embedder per file."""
    embedder = settings.models.embedder
    common = {
        "model": embedder.model,
        "prefix": embedder.document_prefix,
        "batch_size": embedder.batch_size,
        "normalize_embeddings": True,
        "meta_fields_to_embed": ["title", "section"],
    }
    found: dict[str, Any] = {"torch float32": SentenceTransformersDocumentEmbedder(**common, progress_bar=False)}
    if torch_int8:  # truncate_dim (384, no-op) keeps Haystack from sharing the float32 model instance
        found["torch int8 (dynamic, Linear)"] = SentenceTransformersDocumentEmbedder(
            **common, progress_bar=False, truncate_dim=settings.models.embedder.dimension
        )
    for name in onnx_files:
        found[f"onnx {name}"] = OnnxDocumentEmbedder(**common, onnx_file=name, threads=threads)
    for component in found.values():
        component.warm_up()
    if torch_int8:
        import torch  # noqa: PLC0415

        model = found["torch int8 (dynamic, Linear)"].embedding_backend.model
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", help=f"BEIR folders (default: {', '.join(DEFAULT_SETS)} in ../shared/bench)")
    parser.add_argument("--limit", type=int, default=40, help="documents per set (default: 40)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument(
        "--onnx-file", action="append", help="an ONNX file of the model folder (default: models.embedder.onnx_file)"
    )
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: one per core)")
    parser.add_argument("--torch-int8", action="store_true", help="also torch's dynamic int8 quantization of Linear")
    args = parser.parse_args()
    if args.limit < 1 or args.rounds < 1:
        parser.error("--limit and --rounds must be at least 1")

    settings = load_settings()
    sets = [Path(s) for s in args.sets] or [SHARED_BENCH / name for name in DEFAULT_SETS]
    missing = [str(s) for s in sets if not (s / "corpus.jsonl").is_file()]
    if missing:
        parser.error(f"not a BEIR folder (no corpus.jsonl): {', '.join(missing)}")
    chunks = graph_chunks(settings, sets, args.limit)
    tokenizer = None
    try:
        from tokenizers import Tokenizer  # noqa: PLC0415

        tokenizer = Tokenizer.from_file(str(settings.resolve_path(settings.models.embedder.model) / "tokenizer.json"))
    except Exception:
        tokenizer = None
    onnx_files = args.onnx_file or [settings.models.embedder.onnx_file]
    embedders = variants(settings, onnx_files, args.threads, args.torch_int8)
    sample = next(iter(embedders.values()))
    if tokenizer is not None:
        lengths = [len(tokenizer.encode(sample.prefix + (d.content or "")).ids) for d in chunks]
        print(f"{len(chunks)} chunks of {', '.join(s.name for s in sets)}; tokens p50 {statistics.median(lengths):.0f}")

    rates: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            out = embedder.run(documents=chunks)["documents"]
            rates[name].append(len(chunks) / (time.perf_counter() - started))
            vectors[name] = np.array([d.embedding for d in out], dtype=np.float32)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.1f}" for n, r in rates.items()), flush=True)

    reference = vectors["torch float32"]
    base = statistics.median(rates["torch float32"])
    print(
        f"\n| embedder | chunks/s (median of {args.rounds}) | x float32 torch (ratio of medians; median of the "
        "rounds' ratios) | cosine to float32 min / median |"
    )
    print("|---|---|---|---|")
    for name, values in rates.items():
        cos = (vectors[name] * reference).sum(axis=1) / (
            np.linalg.norm(vectors[name], axis=1) * np.linalg.norm(reference, axis=1)
        )
        median = statistics.median(values)
        per_round = statistics.median(v / b for v, b in zip(values, rates["torch float32"], strict=True))
        cosine = f"{cos.min():.4f} / {np.median(cos):.4f}"
        print(f"| {name} | {median:.2f} | {median / base:.2f}; {per_round:.2f} | {cosine} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
