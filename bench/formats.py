"""Every file a company keeps: what the indexing graph reads of each format, how fast, and how well its OCR reads.

Over the generated folder of another fictional company (bench/formats_corpus.py: spreadsheets, e-mails with
attachments, slides, scans, PDFs with tables and columns, an unsupported and an empty file), with the configured
indexing graph (hayhooks.yml, pipelines/indexing/indexing.yml):
1. per format: files, files with text, pages (what the converter numbers: PDF and TIFF pages, slides; a
   workbook or a mail is one), pages per second of conversion (each file alone through the graph's converters,
   child processes included), OCR pages;
2. OCR character error rate on every scanned page, against the text that was drawn (`scans.json`);
3. a 20-page scanned PDF (pages rendered from known text with noise and a slight rotation): pages per minute;
4. the indexer's report over the whole folder (the real embedder and stores in a scratch data dir): every file
   indexed with chunks or reported with its reason — `silent` counts the files with neither.
Answers per format are measured by the answer benchmark: `bench/answers.py --suites formats`.

    .venv/bin/python bench/formats.py [--work-dir /dev/shm/rag-formats] [--scan-pages 20] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.formats_corpus import DOCUMENTS, build  # noqa: E402
from bench.scan_render import PAGES, character_error_rate, render_scan  # noqa: E402
from indexing.index_files import Indexer  # noqa: E402
from service.pipelines import build_pipeline  # noqa: E402
from service.settings import Settings, load_settings  # noqa: E402

AFTER_CONVERSION = (
    "metadata_resolver",
    "splitter",
    "figure_detector",
    "document_embedder",
    "vector_writer",
    "bm25_writer",
)


def scratch_settings(data_dir: Path) -> Settings:
    settings = load_settings()
    return settings.model_copy(update={"stores": settings.stores.model_copy(update={"data_dir": str(data_dir)})})


def conversion_graph(settings: Settings) -> Any:
    """The indexing graph up to its converters' joiner: what each file becomes before it is split."""
    pipeline = build_pipeline("indexing", settings)
    for name in AFTER_CONVERSION:
        pipeline.remove_component(name)
    pipeline.warm_up()
    return pipeline


def convert(pipeline: Any, path: Path) -> tuple[list[Any], float]:
    started = time.perf_counter()
    result = pipeline.run({"sources": [str(path)]}, include_outputs_from={"converted"})
    return result.get("converted", {}).get("documents", []), time.perf_counter() - started


def pages_of(documents: list[Any]) -> int:
    return sum((d.content or "").count("\f") + 1 for d in documents if not d.meta.get("attachment")) or 0


def page_text(documents: list[Any], page: int) -> str:
    own = [d for d in documents if not d.meta.get("attachment")]
    pages = (own[0].content or "").split("\f") if own else []
    return pages[page - 1] if page <= len(pages) else ""


def twenty_page_scan(path: Path, pages: int) -> None:
    """A scanned PDF of `pages` pages: the reference pages drawn at 200 dpi with noise and a slight rotation."""
    texts = list(PAGES.values())
    images = [
        render_scan(texts[i % len(texts)], rotation_deg=(-1.0, 0.5, 1.5)[i % 3], noise=0.02, dpi=200, seed=i).convert(
            "RGB"
        )
        for i in range(pages)
    ]
    images[0].save(path, "PDF", resolution=200, save_all=True, append_images=images[1:])


def main() -> None:  # noqa: PLR0915 (one report, step by step)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path("/dev/shm/rag-formats"))  # noqa: S108 (scratch)
    parser.add_argument("--scan-pages", type=int, default=20)
    parser.add_argument("--skip-index", action="store_true", help="leave out the indexer's report (no embedding)")
    parser.add_argument("--out", type=Path, help="write the measures as JSON here")
    args = parser.parse_args()

    corpus = args.work_dir / "corpus"
    build(corpus)
    folder = corpus / DOCUMENTS
    files = sorted(p for p in folder.iterdir() if p.is_file())
    settings = scratch_settings(args.work_dir / "data-convert")
    pipeline = conversion_graph(settings)
    convert(pipeline, files[0])  # the fork server and the converters' imports, once

    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"files": 0, "read": 0, "pages": 0, "seconds": 0.0, "ocr_pages": 0}
    )
    converted: dict[str, list[Any]] = {}
    for path in files:
        documents, seconds = convert(pipeline, path)
        converted[path.name] = documents
        row = rows[path.suffix.lower() or "(none)"]
        row["files"] += 1
        row["read"] += any((d.content or "").strip() for d in documents)
        row["pages"] += pages_of(documents)
        row["seconds"] += seconds
        row["ocr_pages"] += sum(len(d.meta.get("ocr_pages") or []) for d in documents if not d.meta.get("attachment"))
        print(f"{path.name}: {len(documents)} documents, {seconds:.2f} s", flush=True)

    print("\n| format | files | files with text | pages | OCR pages | pages/s |")
    print("|---|---|---|---|---|---|")
    for suffix, row in sorted(rows.items()):
        rate = row["pages"] / row["seconds"] if row["seconds"] and row["pages"] else 0.0
        print(f"| {suffix} | {row['files']} | {row['read']} | {row['pages']} | {row['ocr_pages']} | {rate:.2f} |")

    scans = json.loads((corpus / "scans.json").read_text(encoding="utf-8"))
    errors = []
    print("\n| scanned page | characters | OCR character error rate |")
    print("|---|---|---|")
    for scan in scans:
        rate = character_error_rate(scan["text"], page_text(converted.get(scan["file"], []), scan["page"]))
        errors.append(rate)
        print(f"| {scan['file']} p. {scan['page']} | {len(scan['text'])} | {rate:.2%} |")
    print(f"| median / worst | | {statistics.median(errors):.2%} / {max(errors):.2%} |")

    long_scan = args.work_dir / f"scan_{args.scan_pages}_pages.pdf"
    twenty_page_scan(long_scan, args.scan_pages)
    documents, seconds = convert(pipeline, long_scan)
    long_rates = [
        character_error_rate(list(PAGES.values())[i % len(PAGES)], page_text(documents, i + 1))
        for i in range(args.scan_pages)
    ]
    print(
        f"\n{args.scan_pages}-page scanned PDF: {seconds:.1f} s ({args.scan_pages / seconds * 60:.1f} pages/min), "
        f"OCR pages {sum(len(d.meta.get('ocr_pages') or []) for d in documents)}, character error rate median "
        f"{statistics.median(long_rates):.2%}, worst {max(long_rates):.2%}"
    )

    report: dict[str, Any] = {}
    if not args.skip_index:
        index_settings = scratch_settings(args.work_dir / "data-index")
        started = time.perf_counter()
        result = Indexer(index_settings).index([folder])
        elapsed = time.perf_counter() - started
        said = set(result.file_chunks) | set(result.skipped) | set(result.no_text) | set(result.failed)
        silent = [p.name for p in files if p.name not in said]
        report = result.to_dict()
        print(f"\nindexer ({elapsed:.1f} s, models loaded in the run):\n{result.summary()}")
        print(
            f"\nfiles: {len(files)}, with chunks {len(result.file_chunks)}, skipped {len(result.skipped)}, "
            f"no text {len(result.no_text)}, failed {len(result.failed)}, silent {len(silent)} {silent or ''}"
        )

    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "formats": rows,
                    "ocr_error_rates": dict(zip([f"{s['file']}#{s['page']}" for s in scans], errors, strict=True)),
                    "long_scan": {"pages": args.scan_pages, "seconds": seconds, "error_rates": long_rates},
                    "index_report": report,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
