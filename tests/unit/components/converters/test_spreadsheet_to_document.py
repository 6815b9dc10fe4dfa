import datetime
import io
import logging
import zipfile

import openpyxl
import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableProperties
from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
from odf.text import P

from components.converters import spreadsheet_to_document as module
from components.converters.spreadsheet_to_document import SpreadsheetToDocument, format_cell

pytestmark = pytest.mark.unit

ACCOUNTING = '_-* #,##0.00 "€"_-;-* #,##0.00 "€"_-;_-* "-"?? "€"_-;_-@_-'


def save(workbook: openpyxl.Workbook, path):
    workbook.save(path)
    return path


def sheet_section(content: str, name: str) -> str:
    """The text of one sheet's section, its heading left out."""
    sections = {part.split("\n", 1)[0]: part.split("\n", 1)[1].strip() for part in content.split("\n\n## ")}
    return sections[name.removeprefix("## ") if name.startswith("## ") else name]


def convert(path, **kwargs):
    (doc,) = SpreadsheetToDocument(**kwargs).run(sources=[path])["documents"]
    return doc


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (None, "General", ""),
        (True, "General", "VRAI"),
        (False, "General", "FAUX"),
        ("Terrassements", "@", "Terrassements"),
        (1268430, "General", "1268430"),
        (1268430.0, "General", "1268430"),
        (0.1 + 0.2, "General", "0,3"),
        (12.5, None, "12,5"),
        (-3.25, "General", "-3,25"),
        (1 / 3, "General", "0,3333333333"),
        (1e-7, "General", "0,0000001"),
        (1.5e-12, "General", "1,5E-12"),
        (12345678901.5, "General", "12345678902"),
        (1234567.891234, "General", "1234567,891"),
        (5, "@", "5"),
        (5, 'General" m²"', "5 m²"),
        (42, "0", "42"),
        (42.6, "0", "43"),
        (3, "0.00", "3,00"),
        (2.675, "0.00", "2,68"),
        (1268430, "#,##0", "1 268 430"),
        (1268430, "#,##0.00", "1 268 430,00"),
        (-1268430.456, "#,##0.00", "-1 268 430,46"),
        (0.695, "0.0%", "69,5 %"),
        (0.5, "0%", "50 %"),
        (0.12345, "0.00%", "12,35 %"),
        (1268430, '#,##0.00 "€ HT"', "1 268 430,00 € HT"),
        (1268430, '#,##0.00\\ "€"', "1 268 430,00 €"),
        (1234.5, "#,##0.00 [$€-40C]", "1 234,50 €"),
        (-1234.5, '#,##0.00\\ "€";[Red]\\-#,##0.00\\ "€"', "-1 234,50 €"),
        (1234.5, ACCOUNTING, "1 234,50 €"),
        (-1234.5, ACCOUNTING, "-1 234,50 €"),
        (0, ACCOUNTING, "- €"),
        (-5, "#,##0;[Red]#,##0", "-5"),
        (-5, "#,##0;(#,##0)", "(5)"),
        (1.5, "0.0#", "1,5"),
        (1.555, "0.0#", "1,56"),
        (7, "000", "007"),
        (612345678, '0#" "##" "##" "##" "##', "06 12 34 56 78"),
        (1234567, "#,##0,", "1 235"),
        (123456, "0.00E+00", "1,23E+05"),
        (12, '0" ml"', "12 ml"),
        (1234.5, "# ?/?", "1234,5"),
        (0.5, ".00", ",50"),
        (0, "#,###", ""),
        (datetime.datetime(2025, 9, 30), "dd/mm/yyyy", "30/09/2025"),
        (datetime.datetime(2025, 9, 30), "mm-dd-yy", "30/09/2025"),
        (datetime.datetime(2025, 9, 30), "[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy", "30/09/2025"),
        (datetime.datetime(2025, 9, 30, 14, 5), "dd/mm/yyyy hh:mm", "30/09/2025 14:05"),
        (datetime.datetime(2025, 9, 30, 14, 5, 7), "m/d/yy h:mm:ss", "30/09/2025 14:05:07"),
        (datetime.datetime(2025, 9, 30, 14, 5), "General", "30/09/2025 14:05"),
        (datetime.date(2025, 9, 30), "General", "30/09/2025"),
        (datetime.time(8, 30), "h:mm", "08:30"),
        (datetime.timedelta(hours=30, minutes=5), "[h]:mm", "30:05"),
        (45930, "dd/mm/yyyy", "30/09/2025"),
    ],
)
def test_format_cell(value, number_format, text):
    assert format_cell(value, number_format) == text


def test_to_dict_from_dict():
    data = component_to_dict(SpreadsheetToDocument(include_hidden=True, max_cells=10, store_full_path=True), "xlsx")
    assert data["type"] == "components.converters.spreadsheet_to_document.SpreadsheetToDocument"
    assert data["init_parameters"] == {"include_hidden": True, "max_cells": 10, "store_full_path": True}
    restored = component_from_dict(SpreadsheetToDocument, data, "xlsx")
    assert (restored.include_hidden, restored.max_cells, restored.store_full_path) == (True, 10, True)


@pytest.fixture
def dqe(tmp_path):
    """A DQE: a title, an info row, then the table (formats, a blank row, trailing styled empty cells)."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "DQE"
    ws["A1"] = "DQE - Lot 3 Gros œuvre"
    ws["A2"], ws["B2"] = "Chantier :", "Résidence Les Pins"
    ws.append([])
    ws.append(["N°", "Désignation", "U", "Qté", "PU HT", "Montant HT", "Avancement", "Date"])
    ws.append(["1.1", "Béton C25/30\nfondations", "m3", 120.5, 98.4, 11857.2, 0.695, datetime.datetime(2025, 9, 30)])
    ws.append(["1.2", "Armatures | HA", "kg", 1500, 1.85, 2775, 1, datetime.datetime(2025, 10, 1)])
    for row in (5, 6):
        ws.cell(row, 5).number_format = "#,##0.00"
        ws.cell(row, 6).number_format = '#,##0.00 "€ HT"'
        ws.cell(row, 7).number_format = "0.0%"
        ws.cell(row, 8).number_format = "dd/mm/yyyy"
    ws.append([])
    ws.append([None, "Total HT", None, None, None, 14632.2])
    ws["F8"].number_format = '#,##0.00\\ "€"'
    ws["Z20"].number_format = "0.00"  # a styled empty cell far away: must not widen the table
    return save(workbook, tmp_path / "dqe.xlsx")


def test_dqe_sheet_as_text_lines_and_a_table(dqe):
    doc = convert(dqe, store_full_path=True)
    assert doc.content == "\n".join(
        [
            "## DQE",
            "",
            "DQE - Lot 3 Gros œuvre",
            "",
            "Chantier : Résidence Les Pins",
            "",
            "| N° | Désignation | U | Qté | PU HT | Montant HT | Avancement | Date |",
            "|---|---|---|---|---|---|---|---|",
            "| 1.1 | Béton C25/30 fondations | m3 | 120,5 | 98,40 | 11 857,20 € HT | 69,5 % | 30/09/2025 |",
            "| 1.2 | Armatures \\| HA | kg | 1500 | 1,85 | 2 775,00 € HT | 100,0 % | 01/10/2025 |",
            "|  | Total HT |  |  |  | 14 632,20 € |  |  |",
        ]
    )
    assert doc.meta["sheets"] == ["DQE"]
    assert doc.meta["sheet_count"] == 1
    assert doc.meta["file_path"] == str(dqe)
    # what the workbook is about, for every chunk of its table: the text lines above the table, not the sheet name
    assert doc.meta["title"] == "DQE - Lot 3 Gros œuvre — Chantier : Résidence Les Pins"


def test_a_title_given_in_the_metadata_wins_and_a_bare_table_has_none(dqe, tmp_path):
    given = SpreadsheetToDocument().run(sources=[dqe], meta={"title": "DQE lot 3"})["documents"][0]
    assert given.meta["title"] == "DQE lot 3"
    workbook = openpyxl.Workbook()
    workbook.active.append(["N°", "Désignation", "Montant"])
    workbook.active.append(["1", "Béton", 120])
    bare = convert(save(workbook, tmp_path / "bare.xlsx"))
    assert "title" not in bare.meta  # the resolver then takes the first heading, as for any document


def test_formulas_give_their_cached_values(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Poste", "Montant"])
    workbook.active.append(["Terrassements", 10])
    workbook.active.append(["Voirie", 20])
    workbook.active.append(["Total", 30])
    buffer = io.BytesIO()
    workbook.save(buffer)
    patched = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                cached = b'<c r="B4" t="n"><v>30</v></c>'
                assert cached in data
                data = data.replace(cached, b'<c r="B4"><f>SUM(B2:B3)</f><v>30</v></c>')
            target.writestr(item, data)
    path = tmp_path / "total.xlsx"
    path.write_bytes(patched.getvalue())
    assert "<f>SUM" in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    content = convert(path).content
    assert content.splitlines()[-1] == "| Total | 30 |"
    assert "SUM" not in content


def test_merged_header_and_row_labels_and_two_row_header(tmp_path):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "Situation"
    ws.append(["Lot", "Désignation", "Quantités", None, "Montant"])
    ws.append([None, None, "Marché", "Réalisé", None])
    ws.append(["Lot 1", "Déblais", 1200, 800, 9600])
    ws.append([None, "Remblais", 300, 300, 4500])
    ws.append(["Lot 2", "Enrobés", 50, 10, 1250])
    for cells in ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "A3:A4"):
        ws.merge_cells(cells)
    assert convert(save(workbook, tmp_path / "situation.xlsx")).content.splitlines()[2:] == [
        "| Lot | Désignation | Quantités / Marché | Quantités / Réalisé | Montant |",
        "|---|---|---|---|---|",
        "| Lot 1 | Déblais | 1200 | 800 | 9600 |",
        "| Lot 1 | Remblais | 300 | 300 | 4500 |",
        "| Lot 2 | Enrobés | 50 | 10 | 1250 |",
    ]


def test_two_row_header_without_merges_and_a_text_section_row_kept_in_the_body(tmp_path):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(["Poste", "Montant", "Montant"])
    ws.append(["", "HT", "TTC"])
    ws.append(["Études", 1000, 1200])
    ws.append(["Lots techniques"])  # a section row: one cell of text, in the body
    ws.append(["Électricité", 500, 600])
    lines = convert(save(workbook, tmp_path / "bpu.xlsx")).content.splitlines()
    assert lines[2:] == [
        "| Poste | Montant / HT | Montant / TTC |",
        "|---|---|---|",
        "| Études | 1000 | 1200 |",
        "| Lots techniques |  |  |",
        "| Électricité | 500 | 600 |",
    ]


def test_a_text_row_below_the_header_is_not_taken_as_a_header_row(tmp_path):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(["N°", "Désignation", "U", "Qté", "PU", "Montant"])
    ws.append(["1", "TERRASSEMENTS"])
    ws.append(["1.1", "Décapage", "m2", 500, 2.5, 1250])
    lines = convert(save(workbook, tmp_path / "dqe.xlsx")).content.splitlines()
    assert lines[2] == "| N° | Désignation | U | Qté | PU | Montant |"
    assert lines[4] == "| 1 | TERRASSEMENTS |  |  |  |  |"


def test_a_chapter_row_under_a_merged_two_row_header_stays_in_the_body(tmp_path):
    """A bill of quantities: « N° prix » merged down over two header rows, « Prix HT » across two columns."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(["N° prix", "Désignation", "Unité", "Quantité", "Prix HT (€)", None])
    ws.append([None, None, None, None, "Unitaire", "Total"])
    for cells in ("A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:F1"):
        ws.merge_cells(cells)
    ws.append(["1", "Installations de chantier"])
    ws.append(["1.1", "Installation de chantier", "Ft", 1, 28500, 28500])
    lines = convert(save(workbook, tmp_path / "dqe.xlsx")).content.splitlines()
    assert lines[2:5] == [
        "| N° prix | Désignation | Unité | Quantité | Prix HT (€) / Unitaire | Prix HT (€) / Total |",
        "|---|---|---|---|---|---|",
        "| 1 | Installations de chantier |  |  |  |  |",
    ]


@pytest.fixture
def with_hidden(tmp_path):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "Personnel"
    ws.append(["Nom", "Poste", "Salaire", "Ville"])
    ws.append(["Martin", "Chef de chantier", 3200, "Lyon"])
    ws.append(["Durand", "Conducteur", 2900, "Nantes"])
    ws.append(["Petit", "Grutier", 2500, "Lille"])
    ws.row_dimensions[3].hidden = True
    ws.column_dimensions["C"].hidden = True
    hidden = workbook.create_sheet("Paramètres")
    hidden.append(["Taux", "Valeur"])
    hidden.append(["TVA", 0.2])
    hidden.sheet_state = "hidden"
    workbook.create_sheet("Vide")
    last = workbook.create_sheet("Notes")
    last["B2"] = "Mise à jour mensuelle"
    return save(workbook, tmp_path / "personnel.xlsx")


def test_hidden_sheets_rows_and_columns_are_left_out(with_hidden):
    doc = convert(with_hidden)
    assert doc.content == "\n".join(
        [
            "## Personnel",
            "",
            "| Nom | Poste | Ville |",
            "|---|---|---|",
            "| Martin | Chef de chantier | Lyon |",
            "| Petit | Grutier | Lille |",
            "",
            "## Notes",
            "",
            "Mise à jour mensuelle",
        ]
    )
    assert doc.meta["sheets"] == ["Personnel", "Notes"]
    assert doc.meta["sheet_count"] == 2
    assert doc.meta["file_path"] == "personnel.xlsx"


def test_include_hidden_keeps_them(with_hidden):
    doc = convert(with_hidden, include_hidden=True)
    assert doc.meta["sheets"] == ["Personnel", "Paramètres", "Notes"]
    assert "| Durand | Conducteur | 2900 | Nantes |" in doc.content
    assert "## Paramètres\n\n| Taux | Valeur |\n|---|---|\n| TVA | 0,2 |" in doc.content


def test_sheets_in_workbook_order_with_headings_and_a_bytestream_source(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Lot 2"
    workbook.active.append(["Poste", "Montant"])
    workbook.active.append(["Voirie", 10])
    second = workbook.create_sheet("Lot 1")
    second.append(["Poste", "Montant"])
    second.append(["Réseaux", 20])
    buffer = io.BytesIO()
    workbook.save(buffer)
    stream = ByteStream(buffer.getvalue(), meta={"file_path": "/chantiers/dpgf.xlsm"}, mime_type="x")
    (doc,) = SpreadsheetToDocument().run(sources=[stream], meta={"chantier": "Les Pins"})["documents"]
    assert doc.content.split("\n\n") == [
        "## Lot 2",
        "| Poste | Montant |\n|---|---|\n| Voirie | 10 |",
        "## Lot 1",
        "| Poste | Montant |\n|---|---|\n| Réseaux | 20 |",
    ]
    assert doc.meta["file_path"] == "dpgf.xlsm"
    assert doc.meta["chantier"] == "Les Pins"
    assert "\f" not in doc.content


def test_a_big_sheet_is_truncated_with_a_warning(tmp_path, caplog):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Ref", "Libellé"])
    for i in range(30):
        workbook.active.append([i, f"Article {i}"])
    path = save(workbook, tmp_path / "articles.xlsx")
    with caplog.at_level(logging.WARNING):
        doc = convert(path, max_cells=20)
    lines = doc.content.splitlines()
    assert lines[2:4] == ["| Ref | Libellé |", "|---|---|"]
    assert lines[-3] == "| 8 | Article 8 |"
    assert lines[-1] == "Feuille tronquée : 10 lignes sur 31 lues."
    assert "articles.xlsx" in caplog.text
    assert "10 rows out of 31" in caplog.text


def test_read_only_mode_for_big_files(dqe, monkeypatch):
    monkeypatch.setattr(module, "READ_ONLY_MIN_BYTES", 0)
    lines = convert(dqe).content.splitlines()
    assert "| 1.1 | Béton C25/30 fondations | m3 | 120,5 | 98,40 | 11 857,20 € HT | 69,5 % | 30/09/2025 |" in lines


def test_calamine_reader_gives_general_values_and_merges(tmp_path):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(["Lot", "Date", "Montant", "Payé"])
    ws.append(["Lot 1", datetime.datetime(2025, 9, 30), 1234.5, True])
    ws.append([None, datetime.datetime(2025, 10, 31), 10, False])
    ws.merge_cells("A2:A3")
    ws["C2"].number_format = "#,##0.00"
    workbook.create_sheet("Masquée").sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    sheets = module._read_calamine(buffer.getvalue(), include_hidden=False, cell_limit=1000)
    assert [(s.name, s.hidden) for s in sheets] == [("Sheet", False), ("Masquée", True)]
    blocks, kept, total = module._sheet_markdown(sheets[0], include_hidden=False, max_cells=1000)
    assert blocks[0].splitlines()[2:] == [
        "| Lot 1 | 30/09/2025 | 1234,5 | VRAI |",
        "| Lot 1 | 31/10/2025 | 10 | FAUX |",
    ]
    assert (kept, total) == (3, 3)


def test_a_workbook_openpyxl_cannot_read_is_read_with_calamine(dqe, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("openpyxl cannot read this")

    monkeypatch.setattr(module.openpyxl, "load_workbook", fail)
    lines = convert(dqe).content.splitlines()
    assert "| 1.1 | Béton C25/30 fondations | m3 | 120,5 | 98,4 | 11857,2 | 0,695 | 30/09/2025 |" in lines


def test_unreadable_files_are_skipped_with_a_warning(tmp_path, caplog, dqe):
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"\x00\x01 not a workbook at all")
    not_a_workbook = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(not_a_workbook, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with caplog.at_level(logging.WARNING):
        documents = SpreadsheetToDocument().run(sources=[garbage, not_a_workbook, dqe])["documents"]
    assert [d.meta["file_path"] for d in documents] == ["dqe.xlsx"]
    assert f"Could not read {garbage}. Skipping it." in caplog.text
    assert f"Could not read {not_a_workbook}. Skipping it." in caplog.text


def ods_cell(text=None, value_type=None, **attributes):
    if value_type:
        attributes["valuetype"] = value_type
    cell = TableCell(**attributes)
    if text is not None:
        cell.addElement(P(text=text))
    return cell


def ods_row(*cells, **attributes):
    row = TableRow(**attributes)
    for cell in cells:
        row.addElement(cell)
    return row


@pytest.fixture
def ods(tmp_path):
    document = OpenDocumentSpreadsheet()
    hidden_style = Style(name="taHidden", family="table")
    hidden_style.addElement(TableProperties(display="false"))
    document.automaticstyles.addElement(hidden_style)

    table = Table(name="Situation n°3")
    table.addElement(TableColumn(numbercolumnsrepeated=3))
    table.addElement(TableColumn(visibility="collapse"))  # D: hidden
    table.addElement(TableColumn(numbercolumnsrepeated=1020))
    table.addElement(ods_row(ods_cell("Situation de travaux n°3"), TableCell(numbercolumnsrepeated=1023)))
    table.addElement(ods_row(TableCell(numbercolumnsrepeated=1024), numberrowsrepeated=2))
    table.addElement(
        ods_row(
            ods_cell("Poste"),
            ods_cell("Montants", numbercolumnsspanned=2),
            CoveredTableCell(),
            ods_cell("Interne"),
            TableCell(numbercolumnsrepeated=1020),
        )
    )
    table.addElement(ods_row(TableCell(), ods_cell("HT"), ods_cell("TTC"), ods_cell("x")))
    table.addElement(
        ods_row(
            ods_cell("Gros œuvre", numberrowsspanned=2),
            ods_cell("1 268 430,00 €", "currency", value="1268430"),
            ods_cell("1 522 116,00 €", "currency", value="1522116"),
            ods_cell("secret", "string"),
            TableCell(numbercolumnsrepeated=1020),
        )
    )
    table.addElement(
        ods_row(CoveredTableCell(), ods_cell("69,5 %", "percentage", value="0.695"), ods_cell("30/09/2025", "date"))
    )
    table.addElement(ods_row(ods_cell("Ligne masquée"), ods_cell("1", "float", value="1"), visibility="collapse"))
    table.addElement(ods_row(ods_cell("Même ligne"), ods_cell("7", "float", value="7"), numberrowsrepeated=2))
    table.addElement(ods_row(TableCell(numbercolumnsrepeated=1024), numberrowsrepeated=1048560))
    document.spreadsheet.addElement(table)

    hidden = Table(name="Cachée", stylename=hidden_style)
    hidden.addElement(ods_row(ods_cell("a"), ods_cell("b")))
    document.spreadsheet.addElement(hidden)
    path = tmp_path / "situation.ods"
    document.save(str(path))
    return path


def test_ods_repeated_merged_and_hidden_cells(ods):
    doc = convert(ods)
    assert doc.content == "\n".join(
        [
            "## Situation n°3",
            "",
            "Situation de travaux n°3",
            "",
            "| Poste | Montants / HT | Montants / TTC |",
            "|---|---|---|",
            "| Gros œuvre | 1 268 430,00 € | 1 522 116,00 € |",
            "| Gros œuvre | 69,5 % | 30/09/2025 |",
            "| Même ligne | 7 |  |",
            "| Même ligne | 7 |  |",
        ]
    )
    assert doc.meta["sheets"] == ["Situation n°3"]


def test_ods_include_hidden(ods):
    doc = convert(ods, include_hidden=True)
    assert doc.meta["sheets"] == ["Situation n°3", "Cachée"]
    assert "| Poste | Montants / HT | Montants / TTC | Interne / x |" in doc.content
    assert "| Ligne masquée | 1 |  |  |" in doc.content
