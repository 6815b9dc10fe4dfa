import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream

from components.converters import CSVTableToDocument
from components.converters.csv_table_to_document import csv_to_markdown

pytestmark = pytest.mark.unit


def test_to_dict_from_dict():
    data = component_to_dict(CSVTableToDocument(store_full_path=True), "csv_converter")
    assert data["init_parameters"] == {"encoding": "utf-8", "store_full_path": True}
    assert component_from_dict(CSVTableToDocument, data, "csv_converter").store_full_path


def test_csv_to_markdown_sniffs_semicolons_and_keeps_decimal_commas():
    table = csv_to_markdown("Lot;Montant HT;Note\n1;312 000,50;a|b\n\n2;933 800\n")
    assert table.splitlines() == [
        "| Lot | Montant HT | Note |",
        "|---|---|---|",
        "| 1 | 312 000,50 | a\\|b |",
        "| 2 | 933 800 |  |",
    ]


def test_csv_to_markdown_of_nothing():
    assert csv_to_markdown("\n\n") == ""


def test_run_reads_files_and_keeps_their_metadata(tmp_path):
    path = tmp_path / "lots.csv"
    path.write_bytes("Lot,Intitulé\n1,Terrassements\n".encode("cp1252"))
    (doc,) = CSVTableToDocument(store_full_path=True).run(sources=[path], meta=[{"lot": "1"}])["documents"]
    assert isinstance(doc, Document)
    assert doc.content.startswith("| Lot | Intitulé |")
    assert doc.meta["file_path"] == str(path)
    assert doc.meta["lot"] == "1"


def test_run_skips_unreadable_sources(tmp_path):
    result = CSVTableToDocument().run(sources=[tmp_path / "absent.csv", ByteStream(b"a;b\n1;2\n")])
    assert [d.content.splitlines()[0] for d in result["documents"]] == ["| a | b |"]


def test_trailing_empty_cells_do_not_widen_the_table():
    assert csv_to_markdown("Lot;Montant;;;;;;\n1;312 000\n").splitlines()[:2] == ["| Lot | Montant |", "|---|---|"]


def test_a_very_wide_row_cannot_pad_the_table_to_gigabytes():
    wide = ";".join(["x"] * 5000) + "\n" + "1\n" * 20_000  # 10 KiB that padding would make 10^8 cells
    table = csv_to_markdown(wide, max_cells=100_000)
    assert len(table) < 4 * 100_000  # about 3 characters a cell
    assert table.splitlines()[-1] == "Tableau tronqué : 19 lignes sur 20000 lues."
