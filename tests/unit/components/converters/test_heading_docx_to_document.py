import docx
import pytest
from haystack.core.serialization import component_from_dict, component_to_dict

from components.converters import HeadingDOCXToDocument
from components.converters.heading_docx_to_document import heading_level

pytestmark = pytest.mark.unit


@pytest.fixture
def report(tmp_path):
    document = docx.Document()
    document.add_heading("Rapport d'essais A2458", level=1)
    document.add_paragraph("Compacité mesurée : 94,2 %.")
    document.add_heading("Résultats par section", level=2)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Section", "Compacité"
    row = table.add_row().cells
    row[0].text, row[1].text = "PR 12+100", "94,1 %"
    path = tmp_path / "rapport.docx"
    document.save(path)
    return path


@pytest.mark.parametrize(
    ("style", "level"), [("Heading 1", 1), ("Titre 3", 3), ("Title", 1), ("Normal", 0), (None, 0), ("Heading 9", 6)]
)
def test_heading_level(style, level):
    assert heading_level(style) == level


def test_to_dict_from_dict():
    data = component_to_dict(HeadingDOCXToDocument(table_format="markdown", store_full_path=True), "docx")
    assert data["type"] == "components.converters.heading_docx_to_document.HeadingDOCXToDocument"
    restored = component_from_dict(HeadingDOCXToDocument, data, "docx")
    assert restored.store_full_path


def test_run_writes_headings_and_tables_as_markdown(report):
    (doc,) = HeadingDOCXToDocument(table_format="markdown", store_full_path=True).run(sources=[report])["documents"]
    lines = [line.strip() for line in doc.content.splitlines()]
    assert lines[0] == "# Rapport d'essais A2458"
    assert "## Résultats par section" in lines
    assert any(line.startswith("| Section") for line in lines)
    assert "docx" not in doc.meta
    assert doc.meta["file_path"] == str(report)


def test_run_skips_a_broken_file(tmp_path):
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    assert HeadingDOCXToDocument().run(sources=[broken])["documents"] == []
