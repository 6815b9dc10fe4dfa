"""Scanned pages and photographed documents (PNG, JPEG, TIFF, BMP) read by OCR."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from PIL import Image, ImageSequence

from components.converters import ocr

logger = logging.getLogger(__name__)

# Why a Document has no text (meta `no_text_reason`, as PDFToDocument writes it); the indexer reports "no text (...)".
NO_TEXT_OCR_OFF = "scanned, OCR off"
NO_TEXT_PREFIX = "scanned, "

DEFAULT_MAX_PIXELS = 60_000_000


@component
class ImageToDocument:
    """
    Converts images of documents (.png, .jpg/.jpeg, .tif/.tiff, .bmp) to one Document each, read by OCR (tesseract,
    French by default); the pages of a multi-page TIFF are separated by form feeds.

    ### Usage example

    ```python
    converter = ImageToDocument(languages=["fra", "eng"])
    documents = converter.run(sources=["bon_de_livraison.tif"])["documents"]
    documents[0].meta  # {"file_path": "bon_de_livraison.tif", "ocr": True, "ocr_pages": [1, 2], "page_count": 2}
    ```

    With OCR off or unavailable, each image gives a Document with empty content and meta `no_text_reason`.
    """

    def __init__(
        self,
        languages: list[str] | None = None,
        enabled: bool = True,
        store_full_path: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        timeout_s: float = 60,
    ) -> None:
        """
        :param languages: Tesseract language codes, default `["fra"]`.
        :param enabled: Read the images; when False, each gives a Document without text.
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        :param max_pixels: Images (or TIFF pages) with more pixels are skipped with a warning.
        :param timeout_s: Longest time the OCR of one page may take, seconds.
        """
        self.languages = languages
        self.enabled = enabled
        self.store_full_path = store_full_path
        self.max_pixels = max_pixels
        self.timeout_s = timeout_s

    def _read(self, data: bytes) -> tuple[str, dict[str, Any]]:
        with warnings.catch_warnings():
            # the size is checked against max_pixels below; over twice Pillow's own limit (~179 million pixels),
            # Image.open raises DecompressionBombError, which run() turns into a warning too
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            page_count = getattr(image, "n_frames", 1)
            texts: list[str] = []
            for page in ImageSequence.Iterator(image):
                pixels = page.width * page.height
                if pixels > self.max_pixels:
                    msg = f"the image has {pixels} pixels, over the limit of {self.max_pixels}"
                    raise ValueError(msg)
                if not self.enabled:
                    return "", {"no_text_reason": NO_TEXT_OCR_OFF, "page_count": page_count}
                reason = ocr.ocr_available(self.languages)
                if reason:
                    return "", {"no_text_reason": NO_TEXT_PREFIX + reason, "page_count": page_count}
                texts.append(ocr.ocr_image(page, languages=self.languages, timeout_s=self.timeout_s))
        content = "\f".join(texts) if any(texts) else ""
        return content, {"ocr": True, "ocr_pages": list(range(1, len(texts) + 1)), "page_count": len(texts)}

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: Image file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable image: its text, pages separated by form feeds, with meta `ocr`,
            `ocr_pages` and `page_count`, or empty content with `no_text_reason` when OCR is off or unavailable.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                content, read_meta = self._read(stream.data)
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, **metadata, **read_meta}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=content, meta=merged))
        return {"documents": documents}
