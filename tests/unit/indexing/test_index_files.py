"""The indexer over the real `indexing` graph and the real embedded stores (Qdrant Edge and the BM25 store in
temporary folders); only the embedder is replaced by a hashing stand-in, so that nothing loads a model."""

import threading
from pathlib import Path

import pytest
from haystack import Document, Pipeline

from components.preprocessors.document_metadata_resolver import DocumentMetadataResolver
from indexing.index_files import (
    Indexer,
    IndexReport,
    _source_name,
    collect_files,
    index_paths,
    manifest_path,
    one_run_at_a_time,
)
from indexing.manifest import Manifest
from indexing.uploads import UploadError, check_batch, owner_folder, save_upload, upload_name
from service.gateway.access import upload_access_meta
from service.gateway.cache import read_index_generation
from service.gateway.config import AccessRule, AccessSettings
from service.gateway.context import Principal
from tests.unit.indexing.hashing_graph import HashingEmbedder, indexing_graph

pytestmark = pytest.mark.unit


def stored_ids(pipeline: Pipeline) -> tuple[set[str], set[str]]:
    vector = pipeline.get_component("vector_writer").document_store
    bm25 = pipeline.get_component("bm25_writer").document_store
    return {d.id for d in vector.filter_documents()}, {d.id for d in bm25.filter_documents()}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "A2458_RD912").mkdir(parents=True)
    (root / "A2458_RD912" / "cr.md").write_text("---\ntags: [rd912]\n---\n# CR\nRabotage 68 %.\n", "utf-8")
    (root / "A2458_RD912" / "cr.md.meta.yml").write_text("service: travaux\n", "utf-8")
    (root / "note.txt").write_text("Note de service sur la viabilité hivernale.\n", "utf-8")
    (root / "lots.csv").write_text("Lot;Montant\n1;312 000 €\n2;933 800 €\n", "utf-8")
    (root / "page.html").write_text("<h1>Fiche</h1><p>Client : CD.</p>", "utf-8")
    (root / "_meta.yml").write_text("client: CD Val-de-Lière\n", "utf-8")
    (root / "plan.dwg").write_bytes(b"AC1032\x00\x00")  # a drawing: no converter reads it
    return root


@pytest.fixture
def graph(settings) -> Pipeline:
    HashingEmbedder.calls = []
    return indexing_graph(settings)


def test_collect_files_skips_metadata_files_only(corpus):
    names = [p.relative_to(corpus).as_posix() for p in collect_files([corpus])]
    assert names == ["A2458_RD912/cr.md", "lots.csv", "note.txt", "page.html", "plan.dwg"]


def test_collect_files_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        collect_files([tmp_path / "absent"])


def test_source_name_is_relative_to_the_indexed_folder(corpus):
    assert _source_name(corpus / "A2458_RD912" / "cr.md", [corpus]) == "A2458_RD912/cr.md"
    assert _source_name(corpus / "note.txt", [corpus / "note.txt"]) == "note.txt"


def test_index_then_reindex_unchanged(corpus, settings, graph):
    report = index_paths([corpus], settings, pipeline=graph)
    assert sorted(report.added) == ["A2458_RD912/cr.md", "lots.csv", "note.txt", "page.html"]
    assert report.failed == {}
    assert report.skipped == {"plan.dwg": "unsupported type .dwg"}  # reported, never left out in silence
    assert "  skipped: plan.dwg: unsupported type .dwg" in report.summary().splitlines()
    assert all(report.file_chunks[name] > 0 for name in report.added)
    vector_ids, bm25_ids = stored_ids(graph)
    assert vector_ids == bm25_ids
    assert len(vector_ids) == report.chunks > 0
    cr = graph.get_component("bm25_writer").document_store.filter_documents(
        {"field": "meta.source", "operator": "==", "value": "A2458_RD912/cr.md"}
    )[0]
    assert (cr.meta["code_affaire"], cr.meta["service"], cr.meta["client"]) == ("A2458", "travaux", "CD Val-de-Lière")
    generation = read_index_generation(settings.resolve_path(settings.stores.data_dir))
    assert generation >= 1  # the cache's key changes: answers cached before this run are not served again
    embedded = sum(HashingEmbedder.calls)
    again = index_paths([corpus], settings, pipeline=graph)
    assert read_index_generation(settings.resolve_path(settings.stores.data_dir)) == generation  # nothing changed
    assert (again.unchanged, again.added, again.updated, again.chunks) == (4, [], [], 0)
    assert sum(HashingEmbedder.calls) == embedded  # nothing embedded again
    assert again.summary().startswith(
        "4 files indexed (0 added, 0 updated, 4 unchanged), 1 skipped, 0 without text, 0 failed, 0 deleted; 0 "
    )
    manifest = Manifest.load(manifest_path(settings))
    assert (manifest.entries[str(corpus / "plan.dwg")].status, manifest.entries[str(corpus / "note.txt")].status) == (
        "skipped",
        "indexed",
    )


def test_edit_delete_add_and_prune(corpus, settings, graph):
    index_paths([corpus], settings, pipeline=graph)
    (corpus / "note.txt").write_text("Nouvelle version : salage préventif.\n", "utf-8")
    (corpus / "lots.csv").unlink()
    (corpus / "ajout.md").write_text("# Ajout\nUn nouveau document.\n", "utf-8")
    (corpus / "A2458_RD912" / "cr.md.meta.yml").write_text("service: etudes\n", "utf-8")  # metadata only
    kept = index_paths([corpus], settings, pipeline=graph)
    assert (sorted(kept.updated), kept.added, kept.deleted) == (["A2458_RD912/cr.md", "note.txt"], ["ajout.md"], [])
    assert kept.missing == [str(corpus / "lots.csv")]
    assert "--prune" in kept.summary()
    pruned = index_paths([corpus], settings, pipeline=graph, prune=True)
    assert (pruned.deleted, pruned.unchanged) == (["lots.csv"], 4)
    bm25 = graph.get_component("bm25_writer").document_store
    contents = " ".join(d.content for d in bm25.filter_documents())
    assert "viabilité" not in contents
    assert "salage" in contents
    assert "312 000" not in contents
    vector_ids, bm25_ids = stored_ids(graph)
    manifest = Manifest.load(settings.resolve_path(settings.stores.data_dir) / "manifest-rag_documents.json")
    assert vector_ids == bm25_ids == {i for e in manifest.entries.values() for i in e.chunk_ids}
    cr = bm25.filter_documents({"field": "meta.source", "operator": "==", "value": "A2458_RD912/cr.md"})
    assert {d.meta["service"] for d in cr} == {"etudes"}


def test_unreadable_files_are_reported_and_skipped(corpus, settings, graph):
    (corpus / "casse.pdf").write_bytes(b"%PDF-1.4 truncated")
    (corpus / "casse.docx").write_bytes(b"not a zip")
    report = index_paths([corpus], settings, pipeline=graph)
    assert sorted(report.failed) == ["casse.docx", "casse.pdf"]
    assert "casse.pdf" in report.summary()
    assert len(report.added) == 4
    retried = index_paths([corpus], settings, pipeline=graph)  # failed files are tried again, nothing else
    assert sorted(retried.failed) == ["casse.docx", "casse.pdf"]
    assert retried.unchanged == 4


def test_same_input_gives_the_same_ids_in_a_fresh_data_dir(corpus, settings, graph, tmp_path):
    index_paths([corpus], settings, pipeline=graph)
    other = settings.model_copy(
        update={"stores": settings.stores.model_copy(update={"data_dir": str(tmp_path / "other")})}
    )
    other_graph = indexing_graph(other)
    index_paths([corpus], other, pipeline=other_graph)
    assert stored_ids(graph) == stored_ids(other_graph)


def test_a_pending_file_left_by_a_killed_run_is_cleaned_up(corpus, settings, graph):
    """A run killed after writing a new version's chunks but before saving the manifest."""
    index_paths([corpus], settings, pipeline=graph)
    manifest_file = settings.resolve_path(settings.stores.data_dir) / "manifest-rag_documents.json"
    before = manifest_file.read_bytes()
    (corpus / "note.txt").write_text("Version intermédiaire jamais enregistrée.\n", "utf-8")
    index_paths([corpus], settings, pipeline=graph)
    manifest_file.write_bytes(before)  # as if killed before the manifest was saved...
    manifest = Manifest.load(manifest_file)
    manifest.entries[str(corpus / "note.txt")].pending = True  # ...but after marking the file pending
    manifest.save()
    (corpus / "note.txt").write_text("Version finale.\n", "utf-8")
    index_paths([corpus], settings, pipeline=graph)
    contents = " ".join(d.content for d in graph.get_component("vector_writer").document_store.filter_documents())
    assert "intermédiaire" not in contents
    assert "finale" in contents


def test_index_report_summary():
    report = IndexReport(
        added=["a"],
        updated=["b"],
        unchanged=3,
        deleted=["c"],
        failed={"x.pdf": "EOF"},
        skipped={"plan.dwg": "unsupported type .dwg"},
        no_text={"scan.pdf": "scanned, OCR off"},
        file_chunks={"a": 1, "b": 7},
        notes={"b": ["OCR on page 2"]},
        chunks=10,
    )
    report.seconds = 1.5
    assert report.summary().splitlines() == [
        "5 files indexed (1 added, 1 updated, 3 unchanged), 1 skipped, 1 without text, 1 failed, 1 deleted; "
        "10 chunks written in 1.5 s",
        "  indexed: a (1 chunk)",
        "  indexed: b (7 chunks; OCR on page 2)",
        "  skipped: plan.dwg: unsupported type .dwg",
        "  no text: scan.pdf (scanned, OCR off)",
        "  failed: x.pdf: EOF",
    ]
    assert report.to_dict()["files"] == 5


def test_empty_files_and_links_out_of_the_folder_are_reported(corpus, settings, graph, tmp_path):
    (corpus / "vide.md").write_text("", "utf-8")
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\nHors du dossier indexé.\n", "utf-8")
    (corpus / "lien.md").symlink_to(outside)
    report = index_paths([corpus], settings, pipeline=graph)
    assert report.no_text == {"vide.md": "empty file"}
    assert report.skipped["lien.md"] == "a link to a file outside the indexed folder"
    contents = " ".join(d.content for d in graph.get_component("bm25_writer").document_store.filter_documents())
    assert "Hors du dossier" not in contents


def test_a_file_that_gives_no_text_is_never_reported_as_indexed(corpus, settings, graph):
    (corpus / "blanc.md").write_text("\n\n   \n", "utf-8")
    report = index_paths([corpus], settings, pipeline=graph)
    assert "blanc.md" not in report.added
    assert report.no_text == {"blanc.md": "no text found in it"}
    again = index_paths([corpus], settings, pipeline=graph)  # unchanged, and still said to hold no text
    assert again.no_text == {"blanc.md": "no text found in it"}
    assert again.unchanged == 4
    assert Manifest.load(manifest_path(settings)).entries[str(corpus / "blanc.md")].status == "no_text"


def test_failed_files_keep_their_status_and_reason_in_the_manifest(corpus, settings, graph):
    (corpus / "casse.docx").write_bytes(b"not a zip")
    report = index_paths([corpus], settings, pipeline=graph)
    entry = Manifest.load(manifest_path(settings)).entries[str(corpus / "casse.docx")]
    assert (entry.status, entry.reason, entry.chunk_ids) == ("failed", report.failed["casse.docx"], [])
    assert not report.failed["casse.docx"].startswith("Could not read")  # the reason alone, in words


def test_supported_suffixes_come_from_the_graph_router(settings, graph):
    suffixes = Indexer(settings, graph).supported_suffixes()
    for suffix in [".pdf", ".docx", ".xlsx", ".xlsm", ".ods", ".xls", ".pptx", ".eml", ".msg", ".png", ".jpg", ".tif"]:
        assert suffix in suffixes
    assert ".md" in suffixes
    assert ".dwg" not in suffixes
    assert ".zip" not in suffixes


def test_uploads(tmp_path):
    supported = {".pdf", ".txt", ".md"}
    assert upload_name("C:\\docs\\Rapport.PDF", supported) == "Rapport.PDF"
    for bad in ["", ".cache.md", "plan.dwg", None, "note.md.meta.yml", "_meta.yml"]:
        with pytest.raises(UploadError):
            upload_name(bad, supported | {".yml"})
    path = save_upload(tmp_path / "up", "note.txt", b"v1")
    save_upload(tmp_path / "up", "note.txt", b"v2")
    assert path.read_bytes() == b"v2"
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == ["note.txt"]


def test_a_refused_file_refuses_the_whole_upload_before_anything_is_written():
    supported = {".pdf", ".md"}
    assert check_batch(["a.md", "b.pdf"], supported) == ["a.md", "b.pdf"]
    with pytest.raises(UploadError, match=r"Nothing was saved.*plan\.dwg"):
        check_batch(["a.md", "plan.dwg"], supported)
    with pytest.raises(UploadError, match="sent twice"):
        check_batch(["a.md", "dossier/a.md"], supported)


def test_each_uploader_has_a_folder_of_its_own(tmp_path):
    assert owner_folder(tmp_path, "user-jean.dupont@btp.fr") == tmp_path / "user-jean.dupont@btp.fr"
    assert owner_folder(tmp_path, "user-../../etc") == tmp_path / "user-.._.._etc"  # one folder, inside
    assert owner_folder(tmp_path, "..") == tmp_path / "_"
    assert owner_folder(tmp_path, "user-a/b").parent == tmp_path


def test_an_uploaded_file_cannot_set_who_sees_it(tmp_path):
    """The sidecar written from the uploader outranks the file's front matter for the access fields."""
    access = AccessSettings(
        rules=[
            AccessRule(name="admins", roles=["admin"], filters=None),
            AccessRule(
                name="own", filters={"field": "meta.code_affaire", "operator": "in", "value": {"claim": "ao_ids"}}
            ),
        ],
        upload_meta={"uploaded_by": {"claim": "name"}, "service": {"claim": "service"}},
    )
    uploader = Principal(name="marie", kind="user", service="travaux", ao_ids=("A2458",))
    meta = upload_access_meta(uploader, access)
    assert meta == {"code_affaire": None, "uploaded_by": "marie", "service": "travaux"}
    text = b"---\ncode_affaire: B1037\nservice: direction\ntitle: Note\n---\nLe texte.\n"
    path = save_upload(owner_folder(tmp_path, "user-marie"), "note.md", text, meta)
    doc = Document(content=text.decode(), meta={"file_path": str(path)})
    resolved = DocumentMetadataResolver().run([doc], roots=[str(tmp_path)])["documents"][0]
    assert resolved.meta["code_affaire"] is None  # not B1037, which another scope sees
    assert (resolved.meta["service"], resolved.meta["uploaded_by"]) == ("travaux", "marie")
    assert resolved.meta["title"] == "Note"  # the file's other fields are its own
    assert resolved.meta["source"] == "user-marie/note.md"


def test_a_second_run_on_the_same_manifest_waits_for_the_first(corpus, settings, graph):
    """Two runs at once (an upload and `rag index` handed to the service) would share the manifest: one waits."""
    seen = []
    with one_run_at_a_time(manifest_path(settings), lambda: None):  # another run holds the stores
        waiting = threading.Thread(target=lambda: seen.append(index_paths_with_events(corpus, settings, graph)))
        waiting.start()
        waiting.join(timeout=2)
        assert waiting.is_alive()  # still waiting
    waiting.join(timeout=60)
    events, report = seen[0]
    assert events[0].waiting
    assert len(report.added) == 4


def index_paths_with_events(corpus, settings, graph):
    events = []
    report = Indexer(settings, graph).index([corpus], on_progress=events.append)
    return events, report


def test_progress_and_generation_after_every_batch(corpus, settings, graph):
    settings = settings.model_copy(update={"indexing": settings.indexing.model_copy(update={"batch_files": 1})})
    data_dir = settings.resolve_path(settings.stores.data_dir)
    seen = []

    def on_progress(event):
        seen.append((event.files, event.total, read_index_generation(data_dir)))

    report = Indexer(settings, graph).index([corpus], on_progress=on_progress)
    assert [(files, total) for files, total, _ in seen] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    generations = [g for *_, g in seen]
    assert generations == sorted(set(generations))  # a new generation after every batch: cached answers retire
    assert report.chunks > 0


def test_a_stopped_run_ends_after_its_batch_and_the_next_run_finishes(corpus, settings, graph):
    settings = settings.model_copy(update={"indexing": settings.indexing.model_copy(update={"batch_files": 1})})
    stop = threading.Event()
    indexer = Indexer(settings, graph)
    report = indexer.index([corpus], on_progress=lambda e: stop.set() if e.files == 2 else None, stop=stop)
    assert (len(report.added), report.stopped) == (2, 2)
    assert "stopped: 2 files not indexed" in report.summary()
    rest = indexer.index([corpus])
    assert (len(rest.added), rest.unchanged, rest.stopped) == (2, 2, 0)


def test_index_report_round_trips_as_plain_data():
    report = IndexReport(
        added=["a"],
        updated=["b"],
        unchanged=3,
        deleted=["c"],
        missing=["/x/d.md"],
        failed={"x.pdf": "EOF"},
        skipped={"plan.dwg": "unsupported type .dwg"},
        no_text={"scan.pdf": "scanned, OCR off"},
        file_chunks={"a": 2, "b": 8},
        notes={"b": ["OCR on page 1"]},
        stopped=1,
        chunks=10,
        seconds=1.5,
    )
    assert IndexReport.from_dict(report.to_dict()) == report


def test_a_file_emptied_or_grown_past_the_limit_no_longer_answers(corpus, settings, graph):
    index_paths([corpus], settings, pipeline=graph)
    bm25 = graph.get_component("bm25_writer").document_store
    assert "viabilité" in " ".join(d.content for d in bm25.filter_documents())
    (corpus / "note.txt").write_text("", "utf-8")  # a new version, empty
    (corpus / "lots.csv").write_bytes(b"Lot;Montant\n" + b"1;312 000\n" * 120_000)  # over a 1 MB limit
    limited = settings.model_copy(
        update={
            "indexing": settings.indexing.model_copy(
                update={"limits": settings.indexing.limits.model_copy(update={"max_file_mb": 1})}
            )
        }
    )
    report = index_paths([corpus], limited, pipeline=graph)
    assert report.no_text == {"note.txt": "empty file"}
    assert report.failed["lots.csv"].startswith("too large: 1 MB (the limit is 1 MB)")
    contents = " ".join(d.content for d in bm25.filter_documents())
    assert "viabilité" not in contents
    assert "312 000" not in contents
    vector_ids, bm25_ids = stored_ids(graph)
    manifest = Manifest.load(manifest_path(settings))
    assert vector_ids == bm25_ids == {i for e in manifest.entries.values() for i in e.chunk_ids}


def test_a_skipped_file_that_is_gone_is_forgotten_quietly(corpus, settings, graph):
    index_paths([corpus], settings, pipeline=graph)
    (corpus / "plan.dwg").unlink()
    report = index_paths([corpus], settings, pipeline=graph)
    assert (report.missing, report.deleted, report.skipped) == ([], [], {})
    assert str(corpus / "plan.dwg") not in Manifest.load(manifest_path(settings)).entries


def test_changing_the_conversion_limits_reindexes_nothing(corpus, settings, graph):
    index_paths([corpus], settings, pipeline=graph)
    looser = settings.model_copy(
        update={
            "indexing": settings.indexing.model_copy(
                update={"limits": settings.indexing.limits.model_copy(update={"timeout_s": 900})}
            )
        }
    )
    assert index_paths([corpus], looser, pipeline=graph).unchanged == 4
