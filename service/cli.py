"""`rag`: the service's command line (serve, index, documents, validate, draw)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from service.settings import ConfigError, load_settings

# OpenMP threads that finish a parallel region sleep at once instead of spinning: the embedder's and the
# cross-encoder's threads otherwise keep cores busy between requests' model calls, which the event loop, the other
# requests' threads and the LLM then wait for (bench/load.py, N=8: overhead p95 84 -> 47 ms). Read by libgomp when
# torch loads, so set before any import of it; an OMP_WAIT_POLICY in the environment wins.
OPENMP_WAIT_POLICY = "PASSIVE"


def _serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)
    from service.local_llm import ensure_local_llm
    from service.server import serve

    settings = load_settings()
    if not args.no_llm:
        ensure_local_llm(settings)
    host, port = settings.server.host, settings.server.port
    print(
        f"\nServing on http://{host}:{port}  (pipelines: {', '.join(settings.server.pipelines)})\n"
        f"  curl -s http://{host}:{port}/rag/run -H 'Content-Type: application/json' "
        """-d '{"query": "Quel est le montant HT du marché A2458 ?"}'\n"""
        f"  python -c \"from openai import OpenAI; c = OpenAI(base_url='http://{host}:{port}/v1', api_key='-'); "
        "print(c.chat.completions.create(model='rag', messages=[{'role': 'user', "
        "'content': 'Quel est le montant HT du marché A2458 ?'}]).choices[0].message.content)\"\n",
        flush=True,
    )
    serve(settings)
    return 0


def _index(args: argparse.Namespace) -> int:
    from indexing import ProgressBar, index_paths
    from service.index_handoff import index_through_service, wait_until_serving
    from service.local_service import running_service

    settings = load_settings()
    paths = [Path(p).resolve() for p in args.paths]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
    service = running_service(settings)  # embedded mode: the service holds the stores, it indexes
    if service is not None and wait_until_serving(
        service, lambda: print(f"Waiting for the service (pid {service.pid}) to start...", file=sys.stderr, flush=True)
    ):
        print(
            f"Indexing through the service running on this data folder (pid {service.pid}, {service.url})",
            file=sys.stderr,
            flush=True,
        )
        bar = ProgressBar()
        try:
            report = index_through_service(service, paths, args.prune, bar)
        except KeyboardInterrupt:
            print("\nInterrupted: the service stops the run after the batch in progress.", file=sys.stderr)
            return 130
        finally:
            bar.close()
    else:
        report = index_paths(paths, settings, prune=args.prune, progress=True)
    print(report.summary())
    return 1 if report.failed and not report.files else 0


def _documents(args: argparse.Namespace) -> int:
    """`rag documents list|show|delete|reindex`: the documents API's functions on this machine's index, unscoped."""
    import json

    from indexing import documents
    from indexing.index_files import shared_indexer
    from service.local_service import running_service

    settings = load_settings()
    service = running_service(settings)  # embedded mode: the running service holds the stores' files
    if service is not None:
        print(
            f"Error: the service running on this data folder (pid {service.pid}) holds its stores: use its API "
            f"({service.url}/documents) or stop it first",
            file=sys.stderr,
        )
        return 2
    indexer = shared_indexer(settings)
    try:
        if args.action == "list":
            result = documents.list_documents(indexer, None, offset=args.offset, limit=args.limit, status=args.status)
        elif args.action == "show":
            result = documents.get_document(indexer, args.id, None)
        elif args.action == "delete":
            result = documents.delete_document(indexer, args.id, None)
        else:
            result = documents.reindex_document(indexer, args.id, None)
    except (
        documents.DocumentNotFoundError,
        documents.DocumentConflictError,
        documents.StoreUnavailableError,
        documents.InvalidRequestError,
    ) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_documents(args.action, result)
    return 0


DOCUMENT_FIELDS = ("id", "source", "title", "status", "reason", "chunks", "indexed_at", "size", "code_affaire",
                   "client", "document_type", "date")  # fmt: skip


def _print_documents(action: str, result: dict) -> None:
    """What `rag documents <action>` shows a person."""
    from indexing.index_files import IndexReport

    if action == "list":
        for doc in result["documents"]:
            about = (doc["title"] or "") if doc["status"] == "indexed" else f"{doc['status']}: {doc['reason'] or ''}"
            print(f"{doc['id']}  {doc['chunks']:>5} chunks  {doc['source']}  {about}".rstrip())
        shown, end = len(result["documents"]), result["offset"] + len(result["documents"])
        more = f" (--offset {end} for more)" if end < result["total"] else ""
        print(f"{shown} of {result['total']} documents{more}")
    elif action == "show":
        for field in DOCUMENT_FIELDS:
            if result.get(field) is not None:
                print(f"{field}: {result[field]}")
        for chunk in result["chunk_list"]:
            where = " > ".join(chunk["section_path"] or []) + (f" (p. {chunk['page']})" if chunk["page"] else "")
            print(f"\n--- {chunk['id']}  {where}".rstrip())
            print(chunk["text"])
    elif action == "delete":
        print(f"Deleted {result['source']} ({result['chunks']} chunks). {result['note']}")
    else:
        print(IndexReport.from_dict(result).summary())


def _validate(args: argparse.Namespace) -> int:
    from service.validate import validate_all

    findings = validate_all(load_settings())
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'} {f.pipeline}: {f.message}")
    return 0 if findings and all(f.ok for f in findings) else 1


def _draw(args: argparse.Namespace) -> int:
    from service.draw import write_drawings
    from service.pipelines import build_pipeline, list_pipeline_names

    settings = load_settings()
    out = Path(args.out)
    for name in list_pipeline_names(settings):
        for path in write_drawings(name, build_pipeline(name, settings), out):
            print(path)
    return 0


def _add_documents_command(commands: argparse._SubParsersAction) -> None:
    from indexing.documents import MAX_LIMIT
    from indexing.manifest import FILE_STATUSES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the API's JSON answer")
    documents = commands.add_parser(
        "documents",
        help="list, show, delete or re-index the indexed documents (this machine's index, every document; the "
        "running service's own API is GET/DELETE /documents)",
    )
    actions = documents.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="the documents, ordered by path, with their status")
    listing.add_argument("--status", choices=FILE_STATUSES)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--limit", type=int, default=MAX_LIMIT, help=f"at most {MAX_LIMIT}")
    actions.add_parser("show", parents=[common], help="one document and its chunks").add_argument("id")
    actions.add_parser(
        "delete", parents=[common], help="take a document out of the index (its file stays on disk unless uploaded)"
    ).add_argument("id")
    actions.add_parser("reindex", parents=[common], help="index a document's file again, even unchanged").add_argument(
        "id"
    )
    documents.set_defaults(run=_documents)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the local LLM if configured, then serve the pipelines")
    serve.add_argument("--no-llm", action="store_true", help="do not start the local LLM")
    serve.set_defaults(run=_serve)
    index = commands.add_parser("index", help="index files and folders through the indexing graph")
    index.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files or folders (PDF, Word, Excel, ODS, PowerPoint, e-mails, scans and images, HTML, Markdown, TXT, "
        "CSV; every other file is reported as skipped)",
    )
    index.add_argument("--prune", action="store_true", help="delete the chunks of indexed files that no longer exist")
    index.set_defaults(run=_index)
    _add_documents_command(commands)
    commands.add_parser("validate", help="load every graph in pipelines/ and report problems").set_defaults(
        run=_validate
    )
    draw = commands.add_parser("draw", help="write PNG, SVG and Mermaid drawings of every graph")
    draw.add_argument("--out", default="docs/graphs")
    draw.set_defaults(run=_draw)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as e:
        print(f"Configuration error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a person reads this: one line, no traceback
        from service.index_handoff import HandOffError
        from service.local_llm import LocalLLMError
        from service.local_service import ServiceRunningError
        from service.pipelines import PipelineDefinitionError

        if isinstance(
            e, PipelineDefinitionError | LocalLLMError | FileNotFoundError | HandOffError | ServiceRunningError
        ):
            print(f"Error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
