"""The isolated converter with real child processes: files that hang, eat memory or crash fail alone."""

import logging
import os
import time
import zipfile

import pytest
from haystack import Document, component
from haystack.core.serialization import component_from_dict, component_to_dict

from components.converters import CSVTableToDocument, IsolatedConverter
from components.converters.isolated_converter import ConversionRefusedError, check_inflated_size

pytestmark = pytest.mark.unit


@component
class MisbehavingConverter:
    """Reads a file's first line as an order: `hang`, `eat` (memory), `crash`, `raise`, else the text itself."""

    @component.output_types(documents=list[Document])
    def run(self, sources, meta=None):
        documents = []
        for source in sources:
            text = open(source, encoding="utf-8").read()  # noqa: SIM115
            order = text.split("\n", 1)[0]
            if order == "hang":
                time.sleep(60)
            elif order == "eat":
                hoard = bytearray(1024 * 1024 * 1024)  # 1 GiB, beyond the child's bound
                documents.append(Document(content=str(len(hoard))))
            elif order == "crash":
                os._exit(3)
            elif order == "raise":
                raise ValueError("unreadable on purpose")
            documents.append(Document(content=text, meta={"file_path": str(source)}))
        return {"documents": documents}


@pytest.fixture
def files(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_to_dict_from_dict_keeps_the_inner_converter(monkeypatch):
    monkeypatch.setenv("HAYSTACK_DESERIALIZATION_ALLOWLIST", "components.*")  # as the graph loader allows it
    isolated = IsolatedConverter(CSVTableToDocument(store_full_path=True), timeout_s=30, memory_mb=1024)
    data = component_to_dict(isolated, "csv_converter")
    assert data["init_parameters"]["converter"]["type"].endswith("CSVTableToDocument")
    again = component_from_dict(IsolatedConverter, data, "csv_converter")
    assert isinstance(again.converter, CSVTableToDocument)
    assert (again.converter.store_full_path, again.timeout_s, again.memory_mb) == (True, 30, 1024)


def test_bounds_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        IsolatedConverter(CSVTableToDocument(), timeout_s=0)


def test_converts_in_a_child(files):
    csv = files("lots.csv", "Lot;Montant\n1;312 000,50\n")
    documents = IsolatedConverter(CSVTableToDocument(store_full_path=True)).run(sources=[csv, csv])["documents"]
    assert [d.content.splitlines()[2] for d in documents] == ["| 1 | 312 000,50 |"] * 2
    assert documents[0].meta["file_path"] == str(csv)


def test_a_file_that_hangs_fails_alone_and_the_next_ones_are_read(files, caplog):
    paths = [files("a.txt", "first"), files("b.txt", "hang"), files("c.txt", "third")]
    converter = IsolatedConverter(MisbehavingConverter(), timeout_s=3)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        documents = converter.run(sources=paths)["documents"]
    assert time.monotonic() - started < 30
    assert [d.content for d in documents] == ["first", "third"]
    assert f"Could not read {paths[1]}: too slow: converting it took over 3 s" in caplog.text


def test_a_file_that_eats_memory_fails_alone(files, caplog):
    paths = [files("a.txt", "eat"), files("b.txt", "second")]
    with caplog.at_level(logging.WARNING):
        documents = IsolatedConverter(MisbehavingConverter(), memory_mb=700).run(sources=paths)["documents"]
    assert [d.content for d in documents] == ["second"]
    assert f"Could not read {paths[0]}: too large: converting it needed more than 700 MB" in caplog.text


def test_a_child_that_dies_fails_its_file_only(files, caplog):
    paths = [files("a.txt", "crash"), files("b.txt", "raise"), files("c.txt", "third")]
    with caplog.at_level(logging.WARNING):
        documents = IsolatedConverter(MisbehavingConverter()).run(sources=paths)["documents"]
    assert [d.content for d in documents] == ["third"]
    assert f"Could not read {paths[0]}: the conversion stopped unexpectedly (exit code 3)" in caplog.text
    assert f"Could not read {paths[1]}: ValueError: unreadable on purpose" in caplog.text


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, caplog):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (3 * 1024 * 1024))
    assert bomb.stat().st_size < 64 * 1024
    with pytest.raises(ConversionRefusedError, match=r"inflate to 3 MB \(the limit is 2 MB\)"):
        check_inflated_size(bomb, max_inflated_mb=2)
    check_inflated_size(tmp_path / "bomb.xlsx", max_inflated_mb=4)  # within the bound: no complaint
    with caplog.at_level(logging.WARNING):
        assert IsolatedConverter(MisbehavingConverter(), max_inflated_mb=2).run(sources=[bomb])["documents"] == []
    assert "too large: its parts inflate to 3 MB" in caplog.text


def test_in_process_mode_still_checks_the_zip(tmp_path):
    text = tmp_path / "note.txt"
    text.write_text("plain", encoding="utf-8")
    documents = IsolatedConverter(MisbehavingConverter(), isolate=False).run(sources=[text])["documents"]
    assert [d.content for d in documents] == ["plain"]


def test_a_streams_metadata_survives_a_converter_that_drops_it(monkeypatch):
    """MarkItDown keeps only `file_path` of a stream: a mail's HTML attachment must keep its own name."""
    monkeypatch.setenv("HAYSTACK_DESERIALIZATION_ALLOWLIST", "haystack_integrations.*")
    from haystack.dataclasses import ByteStream
    from haystack_integrations.components.converters.markitdown.markitdown_converter import MarkItDownConverter

    page = ByteStream(
        data=b"<h1>Ordre de service</h1><p>Demarrage le 3 novembre.</p>",
        mime_type="text/html",
        meta={"file_path": "/docs/mail.eml", "attachment": "os_n2.html", "parent": "mail.eml"},
    )
    (document,) = IsolatedConverter(MarkItDownConverter(store_full_path=True)).run(sources=[page])["documents"]
    assert "Ordre de service" in document.content
    assert (document.meta["attachment"], document.meta["parent"]) == ("os_n2.html", "mail.eml")
