import logging

import pdfplumber
import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    FrameBreak,
    PageBreak,
    PageTemplate,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from components.converters import ocr
from components.converters.pdf_to_document import (
    PDFToDocument,
    extract_table,
    find_gutter,
    table_to_markdown,
)

pytestmark = pytest.mark.unit

STYLES = getSampleStyleSheet()
DQE_HEADER = ["N° prix", "Désignation", "Unité", "Quantité", "Prix unitaire", "Montant"]
DQE_RUNNING_HEADER = "Marché 2025-014 — Lot 3 Chaussées"
ROW_3_2 = ["3.2", "Grave bitume GB3 0/14", "t", "1 250", "68,50", "85 625,00"]
LONG_DESIGNATION = "Fourniture et mise en œuvre de bordures T2 en béton, y compris fondation et épaulement"
REPORT_HEADER = "Société X — Rapport R-2025-07"
LEFT_TEXT = "La chaussée neuve repose sur une couche de forme traitée au liant hydraulique. " * 8
RIGHT_TEXT = "Le compactage est contrôlé à la plaque et au pénétromètre dynamique. " * 8
SCANNED_TEXT = "PROCES-VERBAL DE RECEPTION"


def dqe_rows(count: int = 45) -> list[list[str]]:
    rows = [
        [f"{i // 10 + 1}.{i % 10 + 1}", f"Poste numéro {i + 1}", "m²", f"{(i + 1) * 10}", f"{i + 1},00", f"{i + 1}0,00"]
        for i in range(count)
    ]
    rows[5][1] = LONG_DESIGNATION
    rows[21] = ROW_3_2
    return rows


def make_dqe(path, count: int = 45) -> None:
    """
    A bill of quantities: a title, then a ruled table of 6 columns over 2 pages (header on the first only), with a
    running header and footer (kept: 2 pages are too few to tell them from text).
    """

    def decorate(page: canvas.Canvas, doc: SimpleDocTemplate) -> None:
        page.setFont("Helvetica", 8)
        page.drawString(doc.leftMargin, A4[1] - 30, DQE_RUNNING_HEADER)
        page.drawString(doc.leftMargin, 25, f"DQE page {doc.page}")

    data = [DQE_HEADER] + [[r[0], Paragraph(r[1], STYLES["BodyText"]), *r[2:]] for r in dqe_rows(count)]
    table = Table(data, colWidths=[45, 200, 35, 55, 65, 70])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("FONTSIZE", (0, 0), (-1, -1), 9)]))
    story = [
        Paragraph("Détail quantitatif estimatif", STYLES["Title"]),
        Paragraph("Marché de travaux de voirie, lot 3.", STYLES["BodyText"]),
        table,
        Paragraph("Montant total arrêté à la somme indiquée.", STYLES["BodyText"]),
    ]
    SimpleDocTemplate(str(path), pagesize=A4).build(story, onFirstPage=decorate, onLaterPages=decorate)


def make_two_columns(path) -> None:
    """A technical note: a title across the page, then two columns."""
    doc = BaseDocTemplate(str(path), pagesize=A4)
    gap, title_height = 20, 60
    column_width = (doc.width - gap) / 2
    column_height = doc.height - title_height
    frames = [
        Frame(doc.leftMargin, doc.bottomMargin + column_height, doc.width, title_height, id="title"),
        Frame(doc.leftMargin, doc.bottomMargin, column_width, column_height, id="left"),
        Frame(doc.leftMargin + column_width + gap, doc.bottomMargin, column_width, column_height, id="right"),
    ]
    doc.addPageTemplates([PageTemplate(id="two", frames=frames)])
    story = [
        Paragraph("Note technique : structure de chaussée de la déviation nord", STYLES["Heading1"]),
        FrameBreak(),
        Paragraph("Couche de forme", STYLES["Heading2"]),
        Paragraph(LEFT_TEXT, STYLES["BodyText"]),
        FrameBreak(),
        Paragraph("Contrôles", STYLES["Heading2"]),
        Paragraph(RIGHT_TEXT, STYLES["BodyText"]),
    ]
    doc.build(story)


def make_report(path, pages: int = 5) -> None:
    """A report with a running header and a "Page n / N" footer."""

    def decorate(page: canvas.Canvas, doc: SimpleDocTemplate) -> None:
        page.saveState()
        page.setFont("Helvetica", 9)
        page.drawString(doc.leftMargin, A4[1] - 30, REPORT_HEADER)
        page.drawRightString(A4[0] - doc.rightMargin, 25, f"Page {doc.page} / {pages}")
        page.restoreState()

    story = []
    for number in range(1, pages + 1):
        story += [
            Paragraph(f"Chapitre {number}", STYLES["Heading2"]),
            Paragraph(f"Premier paragraphe du chapitre {number}. " * 12, STYLES["BodyText"]),
            Paragraph(f"Second paragraphe du chapitre {number}.", STYLES["BodyText"]),
            PageBreak(),
        ]
    SimpleDocTemplate(str(path), pagesize=A4).build(story[:-1], onFirstPage=decorate, onLaterPages=decorate)


def make_scanned(path, text_page: bool = True) -> None:
    """A text page (optional), then a page holding only a picture of text, as a scanner makes."""
    image = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(image).text((100, 200), SCANNED_TEXT, fill=0, font=ImageFont.load_default(size=48))
    picture = path.with_suffix(".png")
    image.save(picture)
    page = canvas.Canvas(str(path), pagesize=A4)
    if text_page:
        page.drawString(72, 760, "Page de garde du dossier des ouvrages exécutés, lot 3, voirie.")
        page.showPage()
    page.drawImage(str(picture), 0, 0, width=A4[0], height=A4[1])
    page.showPage()
    page.save()


@pytest.fixture
def fake_ocr(monkeypatch):
    """OCR that reads the test's picture without tesseract, and records the images it was given."""
    images = []

    def ocr_image(image, languages=None, timeout_s=60):
        images.append((image.size, languages))
        return SCANNED_TEXT

    monkeypatch.setattr(ocr, "ocr_available", lambda languages=None: None)
    monkeypatch.setattr(ocr, "ocr_image", ocr_image)
    return images


def convert(path, **init):
    (document,) = PDFToDocument(**init).run(sources=[path])["documents"]
    return document


def test_to_dict_from_dict():
    converter = PDFToDocument(ocr=False, ocr_languages=["fra", "eng"], min_text_chars=20, store_full_path=True)
    data = component_to_dict(converter, "pdf_converter")
    assert data["type"] == "components.converters.pdf_to_document.PDFToDocument"
    assert data["init_parameters"] == {
        "ocr": False,
        "ocr_languages": ["fra", "eng"],
        "min_text_chars": 20,
        "ocr_dpi": 300,
        "remove_repeated_lines": True,
        "store_full_path": True,
    }
    restored = component_from_dict(PDFToDocument, data, "pdf_converter")
    assert (restored.ocr, restored.ocr_languages, restored.min_text_chars) == (False, ["fra", "eng"], 20)


def test_table_to_markdown_repeats_merged_header_cells_and_escapes_pipes():
    rows = [
        ["Lot", "Montants", None],
        [None, "HT", "TTC"],
        ["1", "a|b", None],
        [None, None, None],
        ["2", "10\n000", "12"],
    ]
    assert table_to_markdown(rows).splitlines() == [
        "| Lot | Montants | Montants |",
        "|---|---|---|",
        "|  | HT | TTC |",
        "| 1 | a\\|b |  |",
        "| 2 | 10 000 | 12 |",
    ]


def test_merged_header_cells_read_like_pdfplumber_and_repeated(tmp_path):
    path = tmp_path / "montants.pdf"
    data = [["Lot", "Montants", ""], ["", "HT", "TTC"], ["1 Terrassements", "312 000,50", "374 400,60"]]
    table = Table(data)
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("SPAN", (1, 0), (2, 0)), ("SPAN", (0, 0), (0, 1))])
    )
    SimpleDocTemplate(str(path), pagesize=A4).build([table])
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        (found,) = page.find_tables()
        assert extract_table(found, page.chars) == found.extract()
        assert found.extract()[0] == ["Lot", "Montants", None]
    assert convert(path).content.splitlines() == [
        "| Lot | Montants | Montants |",
        "|---|---|---|",
        "|  | HT | TTC |",
        "| 1 Terrassements | 312 000,50 | 374 400,60 |",
    ]


def test_bill_of_quantities_as_a_markdown_table_continued_on_the_next_page(tmp_path):
    path = tmp_path / "dqe.pdf"
    make_dqe(path)
    document = convert(path, store_full_path=True)
    assert document.meta["page_count"] == 2
    assert document.meta["file_path"] == str(path)
    assert "ocr" not in document.meta
    first, second = document.content.split("\f")
    header = "| " + " | ".join(DQE_HEADER) + " |"
    assert first.split("\n\n")[:4] == [
        DQE_RUNNING_HEADER,
        "# Détail quantitatif estimatif",
        "Marché de travaux de voirie, lot 3.",
        first.split("\n\n")[3],
    ]
    table = first.split("\n\n")[3].splitlines()
    assert table[:2] == [header, "|---|---|---|---|---|---|"]
    assert "| " + " | ".join(ROW_3_2) + " |" in table
    assert f"| 1.6 | {LONG_DESIGNATION} | m² | 60 | 6,00 | 60,00 |" in table
    continued = second.split("\n\n")
    assert continued[0] == DQE_RUNNING_HEADER
    assert continued[1].splitlines()[:2] == [header, "|---|---|---|---|---|---|"]
    assert continued[1].splitlines()[-1] == "| 5.5 | Poste numéro 45 | m² | 450 | 45,00 | 450,00 |"
    assert continued[2:] == ["Montant total arrêté à la somme indiquée.", "DQE page 2"]
    assert first.split("\n\n")[-1] == "DQE page 1"
    rows = [line for page in (first, second) for line in page.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 45  # one header per page, every row once


def test_a_single_row_left_for_the_next_page_gets_the_header(tmp_path):
    path = tmp_path / "dqe.pdf"
    make_dqe(path, count=34)
    second = convert(path).content.split("\f")[1]
    assert second.split("\n\n")[1].splitlines() == [
        "| " + " | ".join(DQE_HEADER) + " |",
        "|---|---|---|---|---|---|",
        "| 4.4 | Poste numéro 34 | m² | 340 | 34,00 | 340,00 |",
    ]


def test_two_columns_read_left_then_right_under_a_title_across_the_page(tmp_path):
    path = tmp_path / "note.pdf"
    make_two_columns(path)
    blocks = convert(path).content.split("\n\n")
    assert [b if b.startswith("#") else " ".join(b.split()) for b in blocks] == [
        "# Note technique : structure de chaussée de la déviation nord",
        "## Couche de forme",
        LEFT_TEXT.strip(),
        "## Contrôles",
        RIGHT_TEXT.strip(),
    ]


def test_find_gutter_keeps_a_single_column_page(tmp_path):
    path = tmp_path / "report.pdf"
    make_report(path, pages=1)
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        assert find_gutter(page.extract_words(), float(page.width)) is None


def test_running_header_and_footer_removed_from_every_page(tmp_path):
    path = tmp_path / "report.pdf"
    make_report(path)
    pages = convert(path).content.split("\f")
    assert len(pages) == 5
    for number, page in enumerate(pages, start=1):
        assert page.split("\n\n") == [
            f"# Chapitre {number}",
            page.split("\n\n")[1],
            f"Second paragraphe du chapitre {number}.",
        ]
        assert " ".join(page.split("\n\n")[1].split()) == (f"Premier paragraphe du chapitre {number}. " * 12).strip()
    kept = convert(path, remove_repeated_lines=False).content.split("\f")
    assert kept[2].splitlines()[0] == REPORT_HEADER
    assert kept[2].splitlines()[-1] == "Page 3 / 5"


def test_scanned_page_read_by_ocr(tmp_path, fake_ocr):
    path = tmp_path / "scan.pdf"
    make_scanned(path)
    document = convert(path, ocr_languages=["fra"], ocr_dpi=100)
    assert document.content == "Page de garde du dossier des ouvrages exécutés, lot 3, voirie.\f" + SCANNED_TEXT
    assert document.meta["ocr_pages"] == [2]
    assert document.meta["ocr"] is True
    assert "no_text_reason" not in document.meta
    ((width, height), languages), *others = fake_ocr  # the page rendered at 100 dpi, once
    assert (width, abs(height - 1169) <= 1, languages, others) == (827, True, ["fra"], [])


def test_a_scan_is_rendered_at_its_own_resolution_not_above(tmp_path, fake_ocr):
    path = tmp_path / "scan.pdf"
    make_scanned(path, text_page=False)  # a 1240-pixel-wide picture over A4's width: a 150 dpi scan
    convert(path, ocr_dpi=300)
    ((width, _), _), *_ = fake_ocr
    assert abs(width - 1240) <= 1  # at 300 dpi, 2481: its noise would be interpolated into strokes


def test_scanned_pages_without_ocr_say_why_they_are_empty(tmp_path, fake_ocr):
    path = tmp_path / "scan.pdf"
    make_scanned(path, text_page=False)
    document = convert(path, ocr=False)
    assert document.content == ""
    assert document.meta["no_text_reason"] == "scanned, OCR off"
    assert "ocr_pages" not in document.meta
    assert "ocr" not in document.meta
    assert fake_ocr == []


def test_scanned_pages_when_tesseract_is_missing(tmp_path, monkeypatch):
    path = tmp_path / "scan.pdf"
    make_scanned(path)
    monkeypatch.setattr(ocr, "ocr_available", lambda languages=None: "tesseract is not installed")
    alone = tmp_path / "alone.pdf"
    make_scanned(alone, text_page=False)
    with_text, without_text = PDFToDocument().run(sources=[path, alone])["documents"]
    assert with_text.content.endswith("\f")
    assert "no_text_reason" not in with_text.meta
    assert without_text.meta["no_text_reason"] == "scanned, tesseract is not installed"


def test_bytestreams_are_read_and_unreadable_files_skipped_with_a_warning(tmp_path, caplog):
    encrypted = tmp_path / "encrypted.pdf"
    page = canvas.Canvas(str(encrypted), encrypt="secret")
    page.drawString(72, 720, "Confidentiel")
    page.save()
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\nnot really a PDF")
    report = tmp_path / "report.pdf"
    make_report(report, pages=3)
    stream = ByteStream(report.read_bytes(), meta={"file_path": "/dossiers/report.pdf"}, mime_type="application/pdf")
    with caplog.at_level(logging.WARNING):
        documents = PDFToDocument().run(sources=[encrypted, corrupt, stream], meta={"lot": "3"})["documents"]
    assert [(d.meta["file_path"], d.meta["lot"], d.meta["page_count"]) for d in documents] == [("report.pdf", "3", 3)]
    assert documents[0].content.startswith("# Chapitre 1\n\n")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"Could not read {encrypted}. Skipping it." in w for w in warnings)
    assert any(f"Could not read {corrupt}. Skipping it." in w for w in warnings)


def test_ocr_failure_is_logged_and_given_as_the_reason(tmp_path, monkeypatch, caplog):
    path = tmp_path / "scan.pdf"
    make_scanned(path, text_page=False)

    def ocr_image(image, languages=None, timeout_s=60):
        raise RuntimeError("tesseract took longer than 60 s")

    monkeypatch.setattr(ocr, "ocr_available", lambda languages=None: None)
    monkeypatch.setattr(ocr, "ocr_image", ocr_image)
    with caplog.at_level(logging.WARNING):
        document = convert(path, ocr_dpi=72)
    assert document.meta["no_text_reason"] == "scanned, OCR failed: tesseract took longer than 60 s"
    assert "ocr_pages" not in document.meta
    assert any(f"Could not read page 1 of {path} by OCR" in r.getMessage() for r in caplog.records)
