"""The attachments of e-mails (.eml, .msg) as sources of their own, to be routed and converted like files."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from haystack import component, logging
from haystack.components.converters.utils import get_bytestream_from_source
from haystack.dataclasses import ByteStream

from components.converters.mail_to_document import (
    MAIL_SUFFIXES,
    OLE_MAGIC,
    Mail,
    is_outlook_mail,
    read_mail,
)

logger = logging.getLogger(__name__)

UNNAMED_MAIL = "message"  # the name of a mail given as a ByteStream without `file_path`


def _is_mail_source(source: str | Path | ByteStream) -> bool:
    if isinstance(source, ByteStream):
        if source.mime_type in MAIL_SUFFIXES.values():
            return True
        if source.mime_type or source.meta.get("attachment"):
            return False
        name = source.meta.get("file_path") or ""
    else:
        name = source
    return PurePosixPath(str(name)).suffix.lower() in MAIL_SUFFIXES


@component
class MailAttachmentExtractor:
    """
    ### Usage example

    ```python
    extractor = MailAttachmentExtractor(max_depth=3)
    sources = extractor.run(sources=["chantier/devis.eml", "chantier/cctp.pdf"])["sources"]
    # ["chantier/devis.eml", "chantier/cctp.pdf", ByteStream(devis.pdf, meta={"attachment": "devis.pdf", ...})]
    ```

    Placed before the `FileTypeRouter`: passes every source on unchanged and in order, then adds, for each mail
    (`.eml`, `.msg`), one ByteStream per attachment, so that each attachment is routed and converted as a file of its
    own. An attached mail is added too, and its own attachments with it, down to `max_depth` levels. Inline images
    (no file name, or shown by the HTML body) are not attachments.

    Each ByteStream has the attachment's bytes, its MIME type (the declared one, guessed from its name when generic)
    and the metadata:
    - `file_path`: the path of the mail file on disk, so that the indexer counts (and deletes) the attachment's chunks
      with the mail's, and the metadata resolver reads the mail's sidecar and folder metadata;
    - `attachment`: the attachment's name, inside nested mails "inner.eml/devis.pdf"; the metadata resolver names the
      document's `source` "<mail source>/<attachment>" and gives it the attachment's type and title, and the indexer
      reports the attachments indexed, and those no converter reads;
    - `parent`: the mail it came from: the mail file's name, or "outer.eml/inner.eml";
    - `mail_subject`, `mail_date` (ISO 8601) and `mail_from` of that mail.
    """

    def __init__(
        self, max_depth: int = 3, max_attachments: int = 50, max_attachment_bytes: int = 50 * 1024 * 1024
    ) -> None:
        """
        :param max_depth: How many levels of attachments are extracted: 1 takes only the mail's own, 3 also those of
            a mail attached to a mail attached to it; 0 takes none.
        :param max_attachments: The most attachments taken from one mail; the others are logged and left out.
        :param max_attachment_bytes: Larger attachments are logged and left out.
        """
        self.max_depth = max_depth
        self.max_attachments = max_attachments
        self.max_attachment_bytes = max_attachment_bytes

    @component.output_types(sources=list[str | Path | ByteStream])
    def run(self, sources: list[str | Path | ByteStream]) -> dict[str, Any]:
        """
        :param sources: File paths or ByteStreams, mails or not.
        :returns: `sources`: the sources given, then the attachments of the mails among them.
        """
        extracted: list[ByteStream] = []
        for source in sources:
            if self.max_depth < 1 or not _is_mail_source(source):
                continue
            try:
                stream = get_bytestream_from_source(source)
                mail = read_mail(stream.data, outlook=is_outlook_mail(stream))
            except Exception as e:
                logger.warning("Could not read the attachments of {source}: {error}", source=source, error=e)
                continue
            file_path = str(stream.meta.get("file_path") or "")
            parent = PurePosixPath(file_path.replace("\\", "/")).name or UNNAMED_MAIL
            extracted += self._extract(mail, file_path, parent=parent, prefix="", depth=1)
        return {"sources": [*sources, *extracted]}

    def _extract(self, mail: Mail, file_path: str, parent: str, prefix: str, depth: int) -> list[ByteStream]:
        attachments = mail.attachments
        if len(attachments) > self.max_attachments:
            logger.warning(
                "{count} attachments of {parent} in {file_path} left out: more than {limit}",
                count=len(attachments) - self.max_attachments,
                parent=parent,
                file_path=file_path,
                limit=self.max_attachments,
            )
            attachments = attachments[: self.max_attachments]
        found = []
        for attachment in attachments:
            name = f"{prefix}{attachment.name}"
            if len(attachment.data) > self.max_attachment_bytes:
                logger.warning(
                    "Attachment {attachment} of {file_path} left out: {size} bytes, more than {limit}",
                    attachment=name,
                    file_path=file_path,
                    size=len(attachment.data),
                    limit=self.max_attachment_bytes,
                )
                continue
            meta = {
                "file_path": file_path,
                "attachment": name,
                "parent": parent,
                "mail_subject": mail.subject,
                "mail_from": mail.sender,
            }
            if mail.iso_date:
                meta["mail_date"] = mail.iso_date
            found.append(ByteStream(data=attachment.data, mime_type=attachment.mime_type, meta=meta))
            if not attachment.is_mail:
                continue
            if depth >= self.max_depth:
                logger.warning(
                    "Attachments of {attachment} in {file_path} left out: mails nested more than {depth} deep",
                    attachment=name,
                    file_path=file_path,
                    depth=self.max_depth,
                )
                continue
            try:
                inner = read_mail(attachment.data, outlook=attachment.data[:8] == OLE_MAGIC)
            except Exception as e:
                logger.warning(
                    "Attached mail {attachment} of {file_path} left unread: {error}",
                    attachment=name,
                    file_path=file_path,
                    error=e,
                )
                continue
            found += self._extract(
                inner, file_path, parent=f"{parent}/{attachment.name}", prefix=f"{name}/", depth=depth + 1
            )
        return found
