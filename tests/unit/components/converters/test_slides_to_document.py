import logging

import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from pptx import Presentation
from pptx.oxml import parse_xml
from pptx.oxml.ns import nsdecls
from pptx.util import Cm

from components.converters.slides_to_document import SlidesToDocument

pytestmark = pytest.mark.unit

TITLE_AND_CONTENT, TITLE_ONLY, BLANK = 1, 5, 6


@pytest.fixture
def deck(tmp_path):
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[TITLE_AND_CONTENT])
    slide.shapes.title.text = "Planning   des travaux"
    body = slide.placeholders[1].text_frame
    body.text = "Terrassements : mars"
    for text, level in [("Purges", 1), ("Chaussée : avril", 0)]:
        paragraph = body.add_paragraph()
        paragraph.text, paragraph.level = text, level
    body.add_paragraph().text = "Hors liste"
    body.paragraphs[-1]._p.get_or_add_pPr().append(parse_xml(f"<a:buNone {nsdecls('a')}/>"))
    slide.notes_slide.notes_text_frame.text = "Vérifier les délais\navec le MOE"

    slide = presentation.slides.add_slide(presentation.slide_layouts[BLANK])
    box = slide.shapes.add_textbox(Cm(1), Cm(1), Cm(10), Cm(2)).text_frame
    box.text = "Montants HT\vvalidés"
    box.add_paragraph().text = "Estimation"
    box.paragraphs[-1]._p.get_or_add_pPr().append(parse_xml(f"<a:buChar {nsdecls('a')} char='•'/>"))
    table = slide.shapes.add_table(3, 2, Cm(1), Cm(4), Cm(10), Cm(3)).table
    for r, row in enumerate([["Lot", "Montant"], ["1 | Terrassements", "312 000 €"], ["2", ""]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Cm(1), Cm(8), Cm(5), Cm(1)).text_frame.text = "Légende"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(Cm(1), Cm(9), Cm(5), Cm(1)).text_frame.text = "Source : DCE"

    slide = presentation.slides.add_slide(presentation.slide_layouts[TITLE_ONLY])
    slide.shapes.title.text = "Questions"
    path = tmp_path / "reunion.pptx"
    presentation.save(path)
    return path


def test_to_dict_from_dict():
    data = component_to_dict(SlidesToDocument(include_notes=False, store_full_path=True), "slides")
    assert data["init_parameters"] == {"include_notes": False, "store_full_path": True}
    assert not component_from_dict(SlidesToDocument, data, "slides").include_notes


def test_slides_as_sections_and_pages(deck):
    (doc,) = SlidesToDocument(store_full_path=True).run(sources=[deck], meta={"lot": "2"})["documents"]
    assert doc.content.split("\f") == [
        "## Planning des travaux\n\n"
        "- Terrassements : mars\n  - Purges\n- Chaussée : avril\nHors liste\n\n"
        "Notes : Vérifier les délais\navec le MOE",
        "## Diapositive 2\n\n"
        "Montants HT\nvalidés\n- Estimation\n\n"
        "| Lot | Montant |\n|---|---|\n| 1 \\| Terrassements | 312 000 € |\n| 2 |  |\n\n"
        "Légende\n\nSource : DCE",
        "## Questions",
    ]
    assert doc.meta == {"file_path": str(deck), "slide_count": 3, "lot": "2"}


def test_notes_can_be_left_out(deck):
    stream = ByteStream(deck.read_bytes(), meta={"file_path": str(deck)})
    (doc,) = SlidesToDocument(include_notes=False).run(sources=[stream])["documents"]
    assert "Notes" not in doc.content
    assert doc.content.startswith(
        "## Planning des travaux\n\n- Terrassements : mars\n  - Purges\n- Chaussée : avril\nHors liste\f"
    )
    assert doc.meta["file_path"] == "reunion.pptx"


def test_unreadable_files_are_skipped(tmp_path, caplog):
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(b"not a zip")
    with caplog.at_level(logging.WARNING):
        assert SlidesToDocument().run(sources=[broken])["documents"] == []
    assert f"Could not read {broken}. Skipping it." in caplog.text
