import numpy as np
import pytesseract
import pytest
from PIL import Image

from bench.scan_render import SITE_REPORT, character_error_rate, render_scan
from components.converters import ocr
from components.converters.ocr import OcrUnavailable, estimate_skew, ocr_available, ocr_image, prepare_scan

pytestmark = pytest.mark.unit

NOTE = """Bon de livraison n° BL-2024-0871

Béton prêt à l'emploi C25/30 XC2, volume livré 8,50 m³, soit 1 020,00 € HT.

Le conducteur de travaux a contrôlé l'affaissement au cône d'Abrams : 12 cm, conforme à la commande."""


@pytest.fixture
def fresh_language_check():
    ocr._installed_languages.cache_clear()
    yield
    ocr._installed_languages.cache_clear()


def test_a_scanned_page_is_read_back():
    image = render_scan(NOTE, rotation_deg=1.0, noise=0.02, seed=3, height_mm=70)
    text = ocr_image(image)
    assert character_error_rate(NOTE, text) < 0.02
    assert text.startswith("Bon de livraison n° BL-2024-0871\n\n")
    assert "1 020,00 € HT" in text


def test_a_blank_page_reads_as_nothing():
    assert ocr_image(Image.new("RGB", (800, 600), "white")) == ""


@pytest.mark.parametrize("angle", [2.0, -1.5, 0.0, 6.0])
def test_the_skew_is_found(angle):
    page = render_scan(SITE_REPORT, rotation_deg=angle, noise=0.02, seed=1)
    assert abs(estimate_skew(page) - angle) <= 0.3


def test_prepare_scan_cleans_and_deskews():
    page = render_scan(SITE_REPORT, rotation_deg=2.0, noise=0.03, seed=1)
    prepared = prepare_scan(page.convert("RGB"))
    assert prepared.mode == "L"
    assert abs(estimate_skew(prepared)) <= 0.3
    assert (np.asarray(page)[20:120, 20:1200] < 200).mean() > 0.01  # the top margin: only noise
    assert (np.asarray(prepared)[60:140, 100:1200] < 200).mean() < 0.0005


def test_prepare_scan_scales_small_pages_up_twice_at_most():
    page = render_scan(SITE_REPORT, rotation_deg=0.0, noise=0.0, dpi=100)
    assert page.size == (827, 1169)
    assert prepare_scan(page).size == (1654, 2338)
    assert prepare_scan(render_scan(SITE_REPORT, rotation_deg=0.0, noise=0.0, dpi=150)).size == (1240, 1754)


def test_prepare_scan_puts_transparency_on_white_and_reads_16_bit_pages():
    transparent = Image.new("RGBA", (2000, 1000), (0, 0, 0, 0))
    assert np.asarray(prepare_scan(transparent)).min() == 255
    deep = Image.fromarray(np.full((1000, 2000), 40000, dtype=np.uint16))
    assert np.asarray(prepare_scan(deep)).mean() == pytest.approx(40000 / 65535 * 255, abs=1)


def test_ocr_text_is_tidied():
    raw = "Chantier de la dévia-  \ntion  \n\n\n\nRéserves :\t\n\f"
    assert ocr._tidy(raw) == "Chantier de la dévia-\ntion\n\nRéserves :"


def test_missing_language_or_tesseract_is_explained(monkeypatch, fresh_language_check):
    assert ocr_available(["fra"]) is None
    assert ocr_available(["fra", "xyz"]) == "the OCR language 'xyz' is not installed"
    with pytest.raises(OcrUnavailable, match="the OCR language 'xyz' is not installed"):
        ocr_image(Image.new("L", (100, 100), 255), languages=["xyz"])

    ocr._installed_languages.cache_clear()

    def not_found(config=""):
        raise pytesseract.TesseractNotFoundError()

    monkeypatch.setattr(pytesseract, "get_languages", not_found)
    assert ocr_available() == "tesseract is not installed"
    with pytest.raises(OcrUnavailable, match="tesseract is not installed"):
        ocr_image(Image.new("L", (100, 100), 255))


def test_the_language_check_runs_once(monkeypatch, fresh_language_check):
    calls = []
    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": calls.append(1) or ["fra", "osd"])
    assert [ocr_available(["fra"]), ocr_available(["eng"])] == [None, "the OCR language 'eng' is not installed"]
    assert calls == [1]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "rate"),
    [
        ("kitten", "sitting", 3 / 6),
        ("12 480,50 €", "12  480,50\n€", 0.0),
        ("abc", "", 1.0),
        ("", "", 0.0),
        ("Béton", "Beton", 1 / 5),
    ],
)
def test_character_error_rate(reference, hypothesis, rate):
    assert character_error_rate(reference, hypothesis) == pytest.approx(rate)
