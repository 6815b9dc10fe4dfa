import io
import logging
import zipfile
from datetime import date, datetime, time, timedelta

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

ACCOUNTING = '_-* #,##0.00\\ "€"_-;\\-* #,##0.00\\ "€"_-;_-* "-"??\\ "€"_-;_-@_-'


def convert(source, **init):
    (document,) = SpreadsheetToDocument(**init).run(sources=[source])["documents"]
    return document


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (1268430, "#,##0.00", "1 268 430,00"),
        (1268430.456, "#,##0", "1 268 430"),
        (3.7, "0", "4"),
        (-5.5, "0", "-6"),
        (2.675, "0.00", "2,68"),
        (-1234.5, "#,##0.00", "-1 234,50"),
        (0.695, "0.0%", "69,5 %"),
        (0.7, "0%", "70 %"),
        (0.1234, "0.0#%", "12,34 %"),
        (datetime(2025, 9, 30), "dd/mm/yyyy", "30/09/2025"),
        (datetime(2025, 9, 30), "mm-dd-yy", "30/09/2025"),
        (datetime(2025, 9, 30, 14, 5), "dd/mm/yyyy hh:mm", "30/09/2025 14:05"),
        (datetime(2025, 9, 30, 14, 5, 7), "yyyy-mm-dd h:mm:ss", "30/09/2025 14:05:07"),
        (time(14, 5), "h:mm", "14:05"),
        (timedelta(hours=30, minutes=5), "[h]:mm", "30:05"),
        (45930, "dd/mm/yyyy", "30/09/2025"),
        (1268430, '#,##0.00 "€ HT"', "1 268 430,00 € HT"),
        (1234.5, "#,##0.00 [$€-40C]", "1 234,50 €"),
        (1234.5, '#,##0.00\\ "€"', "1 234,50 €"),
        (1268430.5, ACCOUNTING, "1 268 430,50 €"),
        (-1268430.5, ACCOUNTING, "-1 268 430,50 €"),
        (0, ACCOUNTING, "- €"),
        (-1234.5, "#,##0.00;(#,##0.00)", "(1 234,50)"),
        (-1234.5, "#,##0.00;[Red]-#,##0.00", "-1 234,50"),
        (12.5, '0.00" m²"', "12,50 m²"),
        (3, "General", "3"),
        (3.0, "General", "3"),
        (2 / 3, "General", "0,6666666667"),
        (1234567.891234, "General", "1234567,891"),
        (12345678901.5, None, "12345678902"),
        (1.5e-5, "General", "0,000015"),
        (12345, "0.00E+00", "12345"),
        (0.5, "# ?/?", "0,5"),
        (5, "@", "5"),
        (datetime(2025, 9, 30), "General", "30/09/2025"),
        (datetime(2025, 9, 30, 8, 30), "General", "30/09/2025 08:30"),
        (date(2025, 1, 2), "General", "02/01/2025"),
        (True, "General", "VRAI"),
        (False, None, "FAUX"),
        ("a | b", "@", "a | b"),
        (None, "0.00", ""),
    ],
)
def test_format_cell(value, number_format, text):
    assert format_cell(value, number_format) == text


@pytest.fixture
def dqe(tmp_path):
    """A bill of quantities: merged title, info row, two-row merged header, merged row labels, hidden parts."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "DQE Lot 2"
    sheet["A1"] = "Détail quantitatif estimatif"
    sheet.merge_cells("A1:E1")
    sheet["A2"], sheet["B2"] = "Chantier :", "RD 907 Sèvres"
    sheet["A4"], sheet["B4"], sheet["C4"], sheet["E4"] = "N°", "Désignation", "Quantités", "Montant HT"
    for cells in ("A4:A5", "B4:B5", "C4:D4", "E4:E5"):
        sheet.merge_cells(cells)
    sheet["C5"], sheet["D5"] = "Marché", "Cumul"
    sheet["A6"] = "Lot 1"
    sheet.merge_cells("A6:A7")
    sheet["B6"], sheet["C6"], sheet["D6"], sheet["E6"] = "Déblais | mise en dépôt", 1200, 800.5, 1268430
    sheet["E6"].number_format = '#,##0.00 "€ HT"'
    sheet["B7"], sheet["C7"], sheet["D7"], sheet["E7"] = "Remblais\ncompactés", 300, 0.695, datetime(2025, 9, 30)
    sheet["D7"].number_format = "0.0%"
    sheet["E7"].number_format = "dd/mm/yyyy"
    sheet["B8"], sheet["E8"] = "Sous-total", 5
    sheet.merge_cells("B8:D8")
    sheet["B9"], sheet["C9"] = "Ligne masquée", 1
    sheet.row_dimensions[9].hidden = True
    sheet["G6"] = "Colonne masquée"
    sheet.column_dimensions["G"].hidden = True
    hidden = workbook.create_sheet("Notes internes")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "Marge 12 %"
    workbook.create_sheet("Vide")
    path = tmp_path / "dqe.xlsx"
    workbook.save(path)
    return path


DQE_TABLE = [
    "| N° | Désignation | Quantités / Marché | Quantités / Cumul | Montant HT |",
    "|---|---|---|---|---|",
    "| Lot 1 | Déblais \\| mise en dépôt | 1200 | 800,5 | 1 268 430,00 € HT |",
    "| Lot 1 | Remblais compactés | 300 | 69,5 % | 30/09/2025 |",
    "|  | Sous-total |  |  | 5 |",
]


def test_run_writes_title_lines_merged_two_row_header_and_row_labels(dqe):
    document = convert(dqe)
    assert document.content == "\n".join(
        ["## DQE Lot 2", "", "Détail quantitatif estimatif", "", "Chantier : RD 907 Sèvres", "", *DQE_TABLE]
    )
    assert document.meta == {"file_path": "dqe.xlsx", "sheets": ["DQE Lot 2", "Vide"], "sheet_count": 2}


def test_include_hidden_keeps_hidden_sheets_rows_and_columns(dqe):
    document = convert(dqe, include_hidden=True, store_full_path=True)
    lines = document.content.splitlines()
    assert "| Lot 1 | Déblais \\| mise en dépôt | 1200 | 800,5 | 1 268 430,00 € HT | Colonne masquée |" in lines
    assert "|  | Ligne masquée | 1 |  |  |  |" in lines
    assert document.content.endswith("## Notes internes\n\nMarge 12 %")
    assert document.meta["sheets"] == ["DQE Lot 2", "Notes internes", "Vide"]
    assert document.meta["file_path"] == str(dqe)


def test_streamed_large_workbook_keeps_values_and_formats(dqe, monkeypatch):
    monkeypatch.setattr(module, "READ_ONLY_ABOVE_BYTES", 0)
    lines = convert(dqe).content.splitlines()
    # Read-only mode knows neither merged cells nor hidden rows and columns, but reads cached values and formats.
    assert lines[6:] == [
        "| N° | Désignation | Quantités / Marché | Cumul | Montant HT |  |",
        "|---|---|---|---|---|---|",
        "| Lot 1 | Déblais \\| mise en dépôt | 1200 | 800,5 | 1 268 430,00 € HT | Colonne masquée |",
        "|  | Remblais compactés | 300 | 69,5 % | 30/09/2025 |  |",
        "|  | Sous-total |  |  | 5 |  |",
        "|  | Ligne masquée | 1 |  |  |  |",
    ]
    assert "Notes internes" not in lines


def test_unreadable_workbook_falls_back_to_calamine(dqe, monkeypatch):
    def broken(*args):
        raise ValueError("openpyxl cannot read this")

    monkeypatch.setattr(module, "_read_openpyxl", broken)
    document = convert(dqe)
    # Values only (General numbers, dates as dd/mm/yyyy), merged cells; no hidden rows and columns.
    assert document.content.splitlines()[6:] == [
        "| N° | Désignation | Quantités / Marché | Quantités / Cumul | Montant HT |  |",
        "|---|---|---|---|---|---|",
        "| Lot 1 | Déblais \\| mise en dépôt | 1200 | 800,5 | 1268430 | Colonne masquée |",
        "| Lot 1 | Remblais compactés | 300 | 0,695 | 30/09/2025 |  |",
        "|  | Sous-total |  |  | 5 |  |",
        "|  | Ligne masquée | 1 |  |  |  |",
    ]
    assert document.meta["sheets"] == ["DQE Lot 2", "Vide"]


def test_formulas_show_their_cached_values(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Situation"
    sheet.append(["Poste", "Montant"])
    sheet.append(["Terrassements", 100])
    sheet.append(["Chaussées", 200])
    sheet.append(["Total", 300])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "situation.xlsx"
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                old = b'<c r="B4" t="n"><v>300</v></c>'
                assert old in data
                data = data.replace(old, b'<c r="B4"><f>SUM(B2:B3)</f><v>300</v></c>')
            target.writestr(item, data)
    assert openpyxl.load_workbook(path)["Situation"]["B4"].value == "=SUM(B2:B3)"
    assert convert(path).content.splitlines()[-1] == "| Total | 300 |"
    assert "SUM" not in convert(path).content


def test_sheets_come_as_headings_in_workbook_order(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Personnel"
    workbook.active.append(["Nom", "Fonction"])
    workbook.active.append(["Durand", "Chef de chantier"])
    notes = workbook.create_sheet("Notes")
    notes.append(["Mise à jour hebdomadaire"])
    notes.append(["Voir aussi le planning"])
    path = tmp_path / "equipe.xlsx"
    workbook.save(path)
    document = convert(path)
    assert document.content == (
        "## Personnel\n\n| Nom | Fonction |\n|---|---|\n| Durand | Chef de chantier |\n\n"
        "## Notes\n\nMise à jour hebdomadaire\n\nVoir aussi le planning"
    )
    assert "\f" not in document.content
    assert document.meta["sheet_count"] == 2


def test_three_text_header_rows_make_one_header(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "BPU"
    sheet.append(["Prix", "Montants", None])
    sheet.append([None, "Travaux", "Travaux"])
    sheet.append(["N°", "HT", "TTC"])
    sheet.append(["P1", 10, 12])
    sheet.append(["P2", 20, 24])
    sheet.merge_cells("B1:C1")
    path = tmp_path / "bpu.xlsx"
    workbook.save(path)
    assert convert(path).content.splitlines()[2:] == [
        "| Prix / N° | Montants / Travaux / HT | Montants / Travaux / TTC |",
        "|---|---|---|",
        "| P1 | 10 | 12 |",
        "| P2 | 20 | 24 |",
    ]


def test_text_rows_below_the_header_stay_table_rows(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Liste"
    for row in (["Nom", "Prénom", "Poste"], ["Martin", "Léa", "Conductrice de travaux"], ["Petit", "Hugo", "Grutier"]):
        sheet.append(row)
    path = tmp_path / "liste.xlsx"
    workbook.save(path)
    assert convert(path).content.splitlines()[2:] == [
        "| Nom | Prénom | Poste |",
        "|---|---|---|",
        "| Martin | Léa | Conductrice de travaux |",
        "| Petit | Hugo | Grutier |",
    ]


def test_a_sheet_over_max_cells_keeps_its_first_rows(tmp_path, caplog):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Export"
    sheet.append(["Code", "Libellé"])
    for i in range(10):
        sheet.append([i, f"Article {i}"])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    with caplog.at_level(logging.WARNING):
        content = convert(path, max_cells=10).content
    assert content.splitlines()[2:] == [
        "| Code | Libellé |",
        "|---|---|",
        "| 0 | Article 0 |",
        "| 1 | Article 1 |",
        "| 2 | Article 2 |",
        "| 3 | Article 3 |",
        "",
        "Feuille tronquée : 5 lignes sur 11 lues.",
    ]
    assert "only its first 5 of 11 rows are read" in caplog.text
    assert "Feuille tronquée" not in convert(path).content


def write_ods(path):
    document = OpenDocumentSpreadsheet()
    hidden_table = Style(name="ta_hidden", family="table")
    hidden_table.addElement(TableProperties(display="false"))
    document.automaticstyles.addElement(hidden_table)

    def cell(text=None, value_type="string", **attributes):
        element = TableCell(valuetype=value_type, **attributes) if text else TableCell(**attributes)
        if text:
            element.addElement(P(text=text))
        return element

    def row(*cells, **attributes):
        element = TableRow(**attributes)
        for item in cells:
            element.addElement(item)
        return element

    table = Table(name="Situation n°3")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    table.addElement(TableColumn(visibility="collapse"))
    table.addElement(TableColumn(numbercolumnsrepeated=1021))
    for element in (
        row(cell("Situation de travaux n°3", numbercolumnsspanned=3), CoveredTableCell(numbercolumnsrepeated=2)),
        row(cell(numbercolumnsrepeated=1024), numberrowsrepeated=2),
        row(cell("Poste"), cell("Montant"), cell("Caché"), cell("Avancement"), cell(numbercolumnsrepeated=1020)),
        row(
            cell("Terrassements", numberrowsspanned=2),
            cell("1 268 430,00 €", "currency", value="1268430", currency="EUR"),
            cell("x"),
            cell("69,5 %", "percentage", value="0.695"),
            cell(numbercolumnsrepeated=1020),
        ),
        row(CoveredTableCell(), cell("12,00", "float", value="12"), cell("y"), cell("10 %", "percentage", value="0.1")),
        row(cell("Ligne masquée"), cell("1", "float", value="1"), visibility="collapse"),
        row(cell("Idem"), cell("1", "float", value="1"), cell(numbercolumnsrepeated=1022), numberrowsrepeated=2),
        row(cell(numbercolumnsrepeated=1024), numberrowsrepeated=1048570),
    ):
        table.addElement(element)
    document.spreadsheet.addElement(table)
    hidden = Table(name="Masquée", stylename=hidden_table)
    hidden.addElement(TableColumn())
    hidden.addElement(row(cell("Brouillon")))
    document.spreadsheet.addElement(hidden)
    document.save(str(path))


def test_ods_repeated_merged_and_hidden_cells(tmp_path):
    path = tmp_path / "situation.ods"
    write_ods(path)
    document = convert(path)
    assert document.content == "\n".join(
        [
            "## Situation n°3",
            "",
            "Situation de travaux n°3",
            "",
            "| Poste | Montant | Avancement |",
            "|---|---|---|",
            "| Terrassements | 1 268 430,00 € | 69,5 % |",
            "| Terrassements | 12,00 | 10 % |",
            "| Idem | 1 |  |",
            "| Idem | 1 |  |",
        ]
    )
    assert document.meta["sheets"] == ["Situation n°3"]
    shown = convert(path, include_hidden=True)
    assert "| Poste | Montant | Caché | Avancement |" in shown.content
    assert "| Ligne masquée | 1 |  |  |" in shown.content
    assert shown.content.endswith("## Masquée\n\nBrouillon")


def test_bytestream_source_keeps_its_metadata(dqe):
    stream = ByteStream(
        dqe.read_bytes(),
        meta={"file_path": "/partage/DQE/dqe.xlsx"},
        mime_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    (document,) = SpreadsheetToDocument().run(sources=[stream], meta={"lot": "2"})["documents"]
    assert document.content.splitlines()[-1] == DQE_TABLE[-1]
    assert document.meta == {
        "file_path": "dqe.xlsx",
        "lot": "2",
        "sheets": ["DQE Lot 2", "Vide"],
        "sheet_count": 2,
    }


def test_unreadable_files_are_skipped_with_a_warning(tmp_path, dqe, caplog):
    garbage = tmp_path / "abime.xlsx"
    garbage.write_bytes(b"\x00\x01 garbage, not a workbook" * 10)
    with caplog.at_level(logging.WARNING):
        documents = SpreadsheetToDocument().run(sources=[garbage, dqe])["documents"]
    assert [d.meta["file_path"] for d in documents] == ["dqe.xlsx"]
    assert f"Could not read {garbage}. Skipping it. Error:" in caplog.text


def test_to_dict_from_dict():
    converter = SpreadsheetToDocument(include_hidden=True, max_cells=1000, store_full_path=True)
    data = component_to_dict(converter, "spreadsheet")
    assert data == {
        "type": "components.converters.spreadsheet_to_document.SpreadsheetToDocument",
        "init_parameters": {"include_hidden": True, "max_cells": 1000, "store_full_path": True},
    }
    restored = component_from_dict(SpreadsheetToDocument, data, "spreadsheet")
    assert (restored.include_hidden, restored.max_cells, restored.store_full_path) == (True, 1000, True)
