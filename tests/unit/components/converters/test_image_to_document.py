import io
import logging
import struct
import zlib

import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from PIL import Image

from bench.scan_render import character_error_rate, render_scan
from components.converters import ocr
from components.converters.image_to_document import ImageToDocument

pytestmark = pytest.mark.unit

FIRST = "Bon de livraison n° 871\n\nGrave non traitée 0/31,5 : 42,00 tonnes livrées le 12 mars 2024."
SECOND = "Réserves\n\nReprise de deux bordures fissurées côté nord avant le 15 juillet."


def strip(text, **kwargs):
    return render_scan(text, rotation_deg=1.0, noise=0.02, height_mm=45, **kwargs)


def png_claiming(width, height):
    """A PNG whose header says width x height: Pillow reads the size without decoding anything."""
    data = io.BytesIO()
    Image.new("L", (1, 1), 255).save(data, format="PNG")
    data = bytearray(data.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:33] = header + struct.pack(">I", zlib.crc32(header))
    return bytes(data)


@pytest.fixture
def no_ocr(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("OCR should not run")

    monkeypatch.setattr(ocr, "ocr_image", fail)


def test_to_dict_from_dict():
    converter = ImageToDocument(languages=["fra", "eng"], enabled=False, store_full_path=True, max_pixels=1000)
    data = component_to_dict(converter, "image_converter")
    assert data["init_parameters"] == {
        "languages": ["fra", "eng"],
        "enabled": False,
        "store_full_path": True,
        "max_pixels": 1000,
        "timeout_s": 60,
    }
    restored = component_from_dict(ImageToDocument, data, "image_converter")
    assert (restored.languages, restored.enabled, restored.max_pixels) == (["fra", "eng"], False, 1000)


def test_a_scanned_page_becomes_a_document(tmp_path):
    path = tmp_path / "bon.png"
    strip(FIRST, seed=1).save(path)
    (document,) = ImageToDocument().run(sources=[path], meta={"lot": "2"})["documents"]
    assert character_error_rate(FIRST, document.content) < 0.02
    assert document.content.startswith("Bon de livraison n° 871\n\n")
    assert "\f" not in document.content
    assert document.meta == {"file_path": "bon.png", "lot": "2", "ocr": True, "ocr_pages": [1], "page_count": 1}


def test_the_pages_of_a_tiff_are_separated_by_form_feeds(tmp_path):
    path = tmp_path / "scan.tif"
    first, second = strip(FIRST, seed=1), strip(SECOND, seed=2).convert("1")
    first.save(path, save_all=True, append_images=[second], compression="tiff_deflate")
    stream = ByteStream(path.read_bytes(), meta={"file_path": "/scans/scan.tif"}, mime_type="image/tiff")
    (document,) = ImageToDocument(store_full_path=True).run(sources=[stream])["documents"]
    pages = document.content.split("\f")
    assert len(pages) == 2
    assert character_error_rate(FIRST, pages[0]) < 0.02
    assert character_error_rate(SECOND, pages[1]) < 0.02
    assert (document.meta["file_path"], document.meta["ocr_pages"], document.meta["page_count"]) == (
        "/scans/scan.tif",
        [1, 2],
        2,
    )


def test_a_blank_image_gives_an_empty_document(tmp_path):
    path = tmp_path / "blanc.jpg"
    Image.new("RGB", (1200, 800), "white").save(path)
    (document,) = ImageToDocument().run(sources=[path])["documents"]
    assert document.content == ""
    assert document.meta["ocr"] is True
    assert "no_text_reason" not in document.meta


def test_ocr_off_says_why_there_is_no_text(tmp_path, no_ocr):
    path = tmp_path / "scan.bmp"
    Image.new("RGB", (300, 200), "white").save(path)
    (document,) = ImageToDocument(enabled=False).run(sources=[path])["documents"]
    assert document.content == ""
    assert document.meta == {"file_path": "scan.bmp", "no_text_reason": "scanned, OCR off", "page_count": 1}


def test_ocr_unavailable_says_why_there_is_no_text(tmp_path, no_ocr):
    path = tmp_path / "scan.png"
    Image.new("L", (300, 200), 255).save(path)
    (document,) = ImageToDocument(languages=["xyz"]).run(sources=[path])["documents"]
    assert document.content == ""
    assert document.meta["no_text_reason"] == "scanned, the OCR language 'xyz' is not installed"
    assert "ocr" not in document.meta


def test_huge_and_corrupt_images_are_skipped_with_a_warning(tmp_path, caplog, no_ocr):
    huge = tmp_path / "huge.png"  # 70 million pixels: over max_pixels, under Pillow's own limit
    huge.write_bytes(png_claiming(10_000, 7_000))
    bomb = tmp_path / "bomb.png"  # 400 million pixels: Pillow refuses it
    bomb.write_bytes(png_claiming(20_000, 20_000))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    small = tmp_path / "small.png"
    Image.new("L", (300, 200), 255).save(small)
    with caplog.at_level(logging.WARNING):
        documents = ImageToDocument(enabled=False).run(sources=[huge, bomb, corrupt, small])["documents"]
    assert [d.meta["file_path"] for d in documents] == ["small.png"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"Could not read {huge}. Skipping it." in w and "over the limit of 60000000" in w for w in warnings)
    assert any(f"Could not read {bomb}. Skipping it." in w for w in warnings)
    assert any(f"Could not read {corrupt}. Skipping it." in w for w in warnings)
    refused = ImageToDocument(enabled=False, max_pixels=50_000).run(sources=[small])["documents"]
    assert refused == []
