from pathlib import Path

import pytest

from indexing.index_files import IndexReport, _source_name, collect_files, index_paths

pytestmark = pytest.mark.unit


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for relative in ["b.md", "a.txt", "sub/c.markdown", "sub/deep/D.MD", "plan.pdf", "sub/image.png", "notes"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {relative}\n", encoding="utf-8")
    return root


def test_collect_files_from_a_folder(corpus):
    files = collect_files([corpus])
    assert [p.relative_to(corpus).as_posix() for p in files] == ["a.txt", "b.md", "sub/c.markdown", "sub/deep/D.MD"]


def test_collect_files_from_files_and_folders(corpus):
    files = collect_files([corpus / "sub", corpus / "b.md", corpus / "plan.pdf"])
    assert files == [corpus / "sub" / "c.markdown", corpus / "sub" / "deep" / "D.MD", corpus / "b.md"]


def test_collect_files_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        collect_files([tmp_path / "absent"])


def test_source_name_is_relative_to_the_indexed_folder(corpus):
    assert _source_name(corpus / "sub" / "deep" / "D.MD", [corpus]) == "sub/deep/D.MD"
    assert _source_name(corpus / "sub" / "c.markdown", [corpus / "b.md", corpus / "sub"]) == "c.markdown"


def test_source_name_of_a_file_indexed_on_its_own(corpus, tmp_path):
    assert _source_name(corpus / "b.md", [corpus / "b.md"]) == "b.md"
    assert _source_name(corpus / "b.md", [tmp_path / "elsewhere"]) == "b.md"


class RecordingPipeline:
    """Stands in for the indexing graph: records each batch, says it wrote two chunks per file."""

    def __init__(self) -> None:
        self.warmed_up = False
        self.batches: list[dict] = []

    def warm_up(self) -> None:
        self.warmed_up = True

    def run(self, data: dict, include_outputs_from: set[str]) -> dict:
        assert "vector_writer" in include_outputs_from
        self.batches.append(data["converter"])
        return {"vector_writer": {"documents_written": 2 * len(data["converter"]["sources"])}}


def test_index_paths(corpus, settings):
    (corpus / "latin1.txt").write_bytes("Réception des travaux".encode("latin-1"))
    pipeline = RecordingPipeline()
    report = index_paths([corpus], settings, pipeline=pipeline)
    assert pipeline.warmed_up
    (batch,) = pipeline.batches
    assert [m["source"] for m in batch["meta"]] == ["a.txt", "b.md", "sub/c.markdown", "sub/deep/D.MD"]
    assert report.files == 4
    assert report.chunks == 8
    assert list(report.failed) == [str((corpus / "latin1.txt").resolve())]
    assert "latin1.txt" in report.summary()


def test_index_paths_in_batches(tmp_path, settings):
    for i in range(20):
        (tmp_path / f"{i:02}.md").write_text(f"# {i}\n", encoding="utf-8")
    pipeline = RecordingPipeline()
    report = index_paths([tmp_path], settings, pipeline=pipeline)
    assert [len(b["sources"]) for b in pipeline.batches] == [16, 4]
    assert (report.files, report.chunks) == (20, 40)


def test_index_report_summary():
    report = IndexReport(files=3, chunks=10, failed={"x.md": "unreadable"}, seconds=1.5)
    assert report.summary().splitlines() == [
        "3 files indexed, 10 chunks written, 1 failed, 1.5 s",
        "  failed: x.md: unreadable",
    ]
