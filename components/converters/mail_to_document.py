"""E-mails (.eml, .msg) as one Document each: subject, sender, recipients, date, attachment names, then the body."""

from __future__ import annotations

import base64
import codecs
import contextlib
import email.policy
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from oxmsg import Message
from oxmsg.domain import constants as msg_constants
from oxmsg.storage import Storage, Stream

logger = logging.getLogger(__name__)

# The mail's header lines, in French, and the names given to what has none.
FROM_LABEL = "De"
TO_LABEL = "À"
CC_LABEL = "Cc"
DATE_LABEL = "Date"
ATTACHMENTS_LABEL = "Pièces jointes"
NO_SUBJECT = "(sans objet)"
ATTACHMENT_NAME = "piece-jointe"  # an attachment without a file name: "piece-jointe-2.pdf"
ATTACHED_MAIL_NAME = "message-joint"  # an attached mail with neither a file name nor a subject
DATE_FORMAT = "%d/%m/%Y %H:%M"
# Dates are shown, and `mail_date` written, in the company's time zone (kept as written when it is unknown here).
DISPLAY_TIMEZONE = "Europe/Paris"

EML_MIME_TYPE = "message/rfc822"
MSG_MIME_TYPE = "application/vnd.ms-outlook"  # as Haystack's FileTypeRouter names it
MAIL_SUFFIXES = {".eml": EML_MIME_TYPE, ".msg": MSG_MIME_TYPE}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # every .msg file is an OLE compound file
# Declared types that say nothing: the attachment's type is then guessed from its file name.
GENERIC_MIME_TYPES = {
    "application/octet-stream",
    "application/binary",
    "application/force-download",
    "application/unknown",
    "application/x-download",
    "binary/octet-stream",
}
# Types some Python builds do not know; registered only where `mimetypes` lacks them.
EXTRA_MIME_TYPES = {
    ".md": "text/markdown",
    **MAIL_SUFFIXES,
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
for _suffix, _mime_type in EXTRA_MIME_TYPES.items():
    if mimetypes.guess_type(f"name{_suffix}")[0] is None:
        mimetypes.add_type(_mime_type, _suffix)

# Outlook: recipient types, the attachment method of an attached Outlook item, and the properties stream of such an
# item, whose header is 24 bytes long where a .msg file's is 32 (python-oxmsg reads only the latter).
_MSG_CC = 2
_MSG_BCC = 3
_MSG_EMBEDDED = 5
_MSG_EMBEDDED_STORAGE = "__substg1.0_3701000D"
_MSG_PROPERTIES = "__properties_version1.0"
_MSG_EMBEDDED_HEADER = 24
_MSG_FILE_HEADER = 32

_SURROGATES = re.compile("[\udc80-\udcff]")
_BLANK_LINES = re.compile(r"\n{3,}")
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class MailAttachment:
    """A file attached to a mail; an attached mail is always given as .eml or .msg bytes."""

    name: str
    data: bytes
    mime_type: str

    @property
    def is_mail(self) -> bool:
        """Whether the attachment is itself a mail (.eml or .msg)."""
        return self.mime_type in MAIL_SUFFIXES.values() or PurePosixPath(self.name).suffix.lower() in MAIL_SUFFIXES


@dataclass
class Mail:
    """What is read from a mail: its headers, its body as text and its attachments (not inline images)."""

    subject: str = ""
    sender: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    body: str = ""
    attachments: list[MailAttachment] = field(default_factory=list)

    @property
    def iso_date(self) -> str | None:
        """The date, ISO 8601, in the company's time zone."""
        return self.date.isoformat() if self.date else None

    def to_markdown(self) -> str:
        """The mail as text: `# subject`, the header lines (only those known), a blank line, the body."""
        lines = []
        if self.sender:
            lines.append(f"{FROM_LABEL} : {self.sender}")
        if self.to:
            lines.append(f"{TO_LABEL} : {', '.join(self.to)}")
        if self.cc:
            lines.append(f"{CC_LABEL} : {', '.join(self.cc)}")
        if self.date:
            lines.append(f"{DATE_LABEL} : {self.date.strftime(DATE_FORMAT)}")
        if self.attachments:
            lines.append(f"{ATTACHMENTS_LABEL} : {', '.join(a.name for a in self.attachments)}")
        blocks = [f"# {self.subject or NO_SUBJECT}", "\n".join(lines), self.body]
        return "\n\n".join(b for b in blocks if b)

    def to_eml(self) -> bytes:
        """The mail as .eml bytes, its attachments included (an attached Outlook item is passed on this way)."""
        message = EmailMessage(policy=email.policy.default)
        headers = {"Subject": self.subject, "From": self.sender, "To": ", ".join(self.to), "Cc": ", ".join(self.cc)}
        if self.date:
            headers["Date"] = format_datetime(self.date)
        for name, value in headers.items():
            if value:
                try:
                    message[name] = " ".join(value.split())
                except Exception as e:  # a header the email package refuses is left out, not the mail
                    logger.debug("Header {header} left out: {error}", header=name, error=e)
        message.set_content(self.body or "")
        for attachment in self.attachments:
            if attachment.mime_type == EML_MIME_TYPE:
                inner = BytesParser(policy=email.policy.default).parsebytes(attachment.data)
                message.add_attachment(inner, filename=attachment.name)
            else:
                maintype, _, subtype = attachment.mime_type.partition("/")
                message.add_attachment(
                    attachment.data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.name
                )
        return message.as_bytes()


def attachment_mime_type(declared: str | None, name: str) -> str:
    """
    The MIME type of an attachment: the declared one, unless it is generic or missing, then guessed from its name.

    :param declared: The type the mail gives the attachment.
    :param name: The attachment's file name.
    :returns: The type, `application/octet-stream` when nothing better is known.
    """
    declared = (declared or "").lower().strip()
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in MAIL_SUFFIXES and declared in {*GENERIC_MIME_TYPES, "", "text/plain"}:
        return MAIL_SUFFIXES[suffix]
    if declared and declared not in GENERIC_MIME_TYPES:
        return declared
    return mimetypes.guess_type(f"name{suffix}")[0] or "application/octet-stream"


def is_outlook_mail(stream: ByteStream) -> bool:
    """
    Whether a mail is an Outlook .msg file (an OLE file, or named/typed so) rather than an .eml file.

    :param stream: The mail; its `attachment` or `file_path` metadata gives its name.
    :returns: True for .msg.
    """
    if stream.data[:8] == OLE_MAGIC:
        return True
    if stream.mime_type in MAIL_SUFFIXES.values():
        return stream.mime_type == MSG_MIME_TYPE
    name = stream.meta.get("attachment") or stream.meta.get("file_path") or ""
    return PurePosixPath(str(name)).suffix.lower() == ".msg"


def read_mail(data: bytes, outlook: bool = False, with_data: bool = True) -> Mail:
    """
    Reads a mail.

    :param data: The bytes of an .eml file, or of an Outlook .msg file.
    :param outlook: True for .msg.
    :param with_data: Decode the attachments' bytes; without, only their names and types are read (faster).
    :returns: The mail.
    :raises ValueError: When a .msg file is not one, or is encrypted.
    """
    mail = _mail_of_outlook(Message.load(data), with_data) if outlook else _mail_of_eml(data, with_data)
    mail.date = _display_date(mail.date)
    _make_names_unique(mail.attachments)
    return mail


def html_to_text(html: str) -> str:
    """
    An HTML body as Markdown text (markitdown).

    :param html: The HTML.
    :returns: The text.
    """
    from markitdown.converters import HtmlConverter  # noqa: PLC0415 (imported only when a mail has no text body)

    return HtmlConverter().convert_string(html).markdown


def decode_text(data: bytes, charset: str | None) -> str:
    """
    Decodes a mail's text: its declared charset, else UTF-8, else Windows-1252 (which latin-1 mails mostly are).

    :param data: The bytes.
    :param charset: The declared charset, if any.
    :returns: The text.
    """
    try:
        declared = codecs.lookup(charset).name if charset else "ascii"
    except LookupError:
        declared = "ascii"
    if declared == "ascii":
        candidates = ["utf-8", "cp1252"]
    elif declared == "iso8859-1":
        candidates = ["cp1252"]
    else:
        candidates = [declared, "utf-8", "cp1252"]
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _clean(text: str | None) -> str:
    """A header's text, with undecodable raw bytes (kept as surrogates by the email package) read as UTF-8/cp1252."""
    text = str(text or "")
    if _SURROGATES.search(text):
        text = decode_text(text.encode("utf-8", "surrogateescape"), None)
    return " ".join(text.split())


def _safe_name(name: str | None) -> str:
    """A file name without folders (some mailers send "C:\\...\\devis.pdf") or "/" (it separates nested names)."""
    name = _NAME_UNSAFE.sub("", _clean(name))
    return re.split(r"[\\/]", name)[-1].strip()


def _mail_name(name: str | None, subject: str) -> str:
    """The name of an attached mail given as .eml bytes: its file name, else its subject, ending in .eml."""
    name = _safe_name(name) or _safe_name(subject) or ATTACHED_MAIL_NAME
    stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
    return f"{stem}.eml" if f".{suffix.lower()}" in MAIL_SUFFIXES else f"{name}.eml"


def _make_names_unique(attachments: list[MailAttachment]) -> None:
    seen: set[str] = set()
    for attachment in attachments:
        name, n = attachment.name, 1
        path = PurePosixPath(name)
        while name.lower() in seen:
            n += 1
            name = f"{path.stem} ({n}){path.suffix}"
        seen.add(name.lower())
        attachment.name = name


def _display_date(date: datetime | None) -> datetime | None:
    if date is None or date.tzinfo is None:
        return date
    try:
        return date.astimezone(ZoneInfo(DISPLAY_TIMEZONE))
    except ZoneInfoNotFoundError:
        return date


def _addresses(values: list[str]) -> list[str]:
    """Addresses as "Name <address>" (no quotes), or either alone."""
    found = []
    for name, address in getaddresses([_clean(v) for v in values if v]):
        text = f"{name} <{address}>" if name and address else name or address
        if text:
            found.append(text)
    return found or [_clean(v) for v in values if _clean(v)]  # kept as written when not parsed as addresses


# --- .eml ---


def _mail_of_eml(data: bytes, with_data: bool) -> Mail:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    body_part = message.get_body(preferencelist=("plain", "html"))
    attachments = []
    for part in _leaf_parts(message):
        if part is not body_part and _is_attachment(part):
            attachments.append(_attachment_of_part(part, len(attachments) + 1, with_data))
    return Mail(
        subject=_clean(_header(message, "subject")),
        sender=", ".join(_addresses([_header(message, "from")])),
        to=_addresses([_header(message, "to")]),
        cc=_addresses([_header(message, "cc")]),
        date=_eml_date(message),
        body=_part_text(body_part) if body_part is not None else "",
        attachments=attachments,
    )


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded value; raw 8-bit values (which the email package shows as U+FFFD) are decoded here."""
    try:
        value = ", ".join(str(v) for v in message.get_all(name) or [])
    except Exception:  # a header too broken to parse: its raw value
        value = "\ufffd"
    if "\ufffd" in value:
        value = ", ".join(_clean(v) for k, v in message.raw_items() if k.lower() == name)
    return value


def _eml_date(message: EmailMessage) -> datetime | None:
    try:
        header = message["date"]
        return getattr(header, "datetime", None) or (parsedate_to_datetime(str(header)) if header else None)
    except Exception:
        return None


def _leaf_parts(message: EmailMessage) -> list[EmailMessage]:
    """The parts that are not multipart containers; an attached mail is one part (it is not opened here)."""
    if message.get_content_maintype() != "multipart":
        return [message]
    return [leaf for part in message.iter_parts() for leaf in _leaf_parts(part)]


def _is_attachment(part: EmailMessage) -> bool:
    """An attached mail, a part marked as attachment, or a named part that the HTML body does not show (no
    Content-ID): inline images of the body and signatures are not attachments."""
    if part.get_content_type() == EML_MIME_TYPE or part.get_content_disposition() == "attachment":
        return True
    return bool(part.get_filename()) and part["content-id"] is None


def _attachment_of_part(part: EmailMessage, number: int, with_data: bool) -> MailAttachment:
    content_type = part.get_content_type()
    filename = part.get_filename()
    if content_type == EML_MIME_TYPE:
        data = _attached_mail_bytes(part) if with_data or not filename else b""
        subject = (
            "" if filename else _header(BytesParser(policy=email.policy.default).parsebytes(data, True), "subject")
        )
        return MailAttachment(_mail_name(filename, subject), data, EML_MIME_TYPE)
    data = (part.get_payload(decode=True) or b"") if with_data else b""
    name = _safe_name(filename)
    if not name:
        name = f"{ATTACHMENT_NAME}-{number}{mimetypes.guess_extension(content_type) or ''}"
    return MailAttachment(name, data, attachment_mime_type(content_type, name))


def _attached_mail_bytes(part: EmailMessage) -> bytes:
    """The bytes of a message/rfc822 part; some mailers encode it in base64 or quoted-printable, which the email
    package then parses as a mail of no headers."""
    payload = part.get_payload()
    if not isinstance(payload, list) or not payload:
        return part.get_payload(decode=True) or b""
    raw = payload[0].as_bytes()
    encoding = str(part.get("content-transfer-encoding", "")).lower()
    if encoding == "base64":
        return base64.b64decode(raw)
    if encoding == "quoted-printable":
        return quopri.decodestring(raw.lstrip(b"\r\n"))
    return raw


def _part_text(part: EmailMessage) -> str:
    text = decode_text(part.get_payload(decode=True) or b"", part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return _tidy(text)


# --- .msg (python-oxmsg) ---


def _mail_of_outlook(message: Message, with_data: bool = True) -> Mail:
    headers = {k.lower(): v for k, v in message.message_headers.items()}
    if "encrypted" in headers.get("content-type", ""):
        raise ValueError("the mail is encrypted")
    to, cc = [], []
    for recipient in message.recipients:
        kind = recipient.properties.int_prop_value(msg_constants.PID_RECIPIENT_TYPE)
        name, address = _clean(recipient.name), _clean(recipient.email_address)
        text = f"{name} <{address}>" if name and address and name != address else name or address
        if text and kind != _MSG_BCC:
            (cc if kind == _MSG_CC else to).append(text)
    date = message.sent_date
    if headers.get("date"):
        with contextlib.suppress(TypeError, ValueError):
            date = parsedate_to_datetime(headers["date"])
    if message.body:
        body = _tidy(message.body)
    elif html := message.html_body:
        body = _tidy(html_to_text(html))
    else:
        body = ""
    return Mail(
        subject=_clean(message.subject),
        sender=", ".join(_addresses([message.sender or ""])),
        to=to,
        cc=cc,
        date=date,
        body=body,
        attachments=[a for a in (_outlook_attachment(a, with_data) for a in message.attachments) if a is not None],
    )


def _outlook_attachment(attachment: Any, with_data: bool) -> MailAttachment | None:
    """A .msg attachment; hidden ones (inline images) and those not held in the file (links, OLE objects) are
    left out. An attached Outlook item is given as .eml bytes."""
    props = attachment.properties
    if props.int_prop_value(msg_constants.PID_ATTACHMENT_HIDDEN):
        return None
    name = (
        attachment.file_name
        or props.str_prop_value(msg_constants.PID_ATTACH_FILENAME)
        or props.str_prop_value(msg_constants.PID_DISPLAY_NAME)
        or ""
    )
    if props.int_prop_value(msg_constants.PID_ATTACH_METHOD) == _MSG_EMBEDDED:
        inner = _embedded_outlook_message(attachment)
        if inner is None:
            return None
        try:
            mail = _mail_of_outlook(inner, with_data)
            _make_names_unique(mail.attachments)
            return MailAttachment(_mail_name(name, mail.subject), mail.to_eml() if with_data else b"", EML_MIME_TYPE)
        except Exception as e:  # the item is left out, not the mail that holds it
            logger.warning("Attached Outlook item {attachment} left unread: {error}", attachment=name, error=e)
            return None
    if attachment.file_bytes is None:
        return None
    name = _safe_name(name) or f"{ATTACHMENT_NAME}{mimetypes.guess_extension(attachment.mime_type or '') or ''}"
    return MailAttachment(name, attachment.file_bytes, attachment_mime_type(attachment.mime_type, name))


def _embedded_outlook_message(attachment: Any) -> Message | None:
    """The Outlook item attached by `attachment`, readable by python-oxmsg: its properties header padded to 32
    bytes. Uses python-oxmsg's storage tree (`Attachment._storage`), which it does not make public."""
    storage = getattr(attachment, "_storage", None)
    inner = next((s for s in getattr(storage, "storages", ()) if s.name == _MSG_EMBEDDED_STORAGE), None)
    if inner is None:
        return None
    pad = bytes(_MSG_FILE_HEADER - _MSG_EMBEDDED_HEADER)
    streams = tuple(
        Stream(s.path, s.bytes_[:_MSG_EMBEDDED_HEADER] + pad + s.bytes_[_MSG_EMBEDDED_HEADER:])
        if s.name == _MSG_PROPERTIES
        else s
        for s in inner.streams
    )
    return Message(Storage(path=inner.path, streams=streams, storages=inner.storages))


@component
class MailToDocument:
    """
    ### Usage example

    ```python
    converter = MailToDocument(store_full_path=True)
    docs = converter.run(sources=["chantier/2024-03-05 devis.eml", "chantier/relance.msg"])["documents"]
    print(docs[0].content)  # "# Devis lot 2\\n\\nDe : Jean Dupont <jean@exemple.fr>\\nÀ : ...\\n\\nBonjour, ..."
    ```

    Converts e-mails, `.eml` (MIME) and Outlook `.msg`, to one Document each holding the mail itself: a `# subject`
    heading, the lines `De :`, `À :`, `Cc :`, `Date :` (dd/mm/yyyy HH:MM, Paris time) and `Pièces jointes :` (those
    known), then the body (its plain text, else its HTML as Markdown). The attachments are not converted here: see
    `MailAttachmentExtractor`. Metadata: `title` (the subject), `mail_subject`, `mail_from`, `mail_to` and `mail_cc`
    (lists), `mail_date` (ISO 8601) and `attachments` (their names).
    """

    def __init__(self, store_full_path: bool = False) -> None:
        """
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        self.store_full_path = store_full_path

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: .eml/.msg file paths or ByteStreams (the format is told by the MIME type, the name, or the
            bytes of an OLE file).
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable mail.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                mail = read_mail(stream.data, outlook=is_outlook_mail(stream), with_data=False)
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            name = str(stream.meta.get("attachment") or stream.meta.get("file_path") or "")
            mail_meta: dict[str, Any] = {
                "mail_subject": mail.subject,
                "mail_from": mail.sender,
                "mail_to": mail.to,
                "mail_cc": mail.cc,
                "attachments": [a.name for a in mail.attachments],
            }
            if mail.iso_date:
                mail_meta["mail_date"] = mail.iso_date
            if title := mail.subject or PurePosixPath(name).stem:
                mail_meta["title"] = title
            merged = {**{k: v for k, v in stream.meta.items() if k != "mail_date"}, **mail_meta, **metadata}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=mail.to_markdown(), meta=merged))
        return {"documents": documents}
