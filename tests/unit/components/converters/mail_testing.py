"""Outlook .msg files for the tests, written here: no library writes them. A .msg file is an OLE compound file
(MS-CFB) holding MAPI properties (MS-OXMSG); this writes the least of both that python-oxmsg reads."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

# MAPI property types and ids (MS-OXPROPS).
PT_INT32, PT_BOOLEAN, PT_TIME, PT_UNICODE, PT_BINARY, PT_OBJECT = 0x0003, 0x000B, 0x0040, 0x001F, 0x0102, 0x000D
PID_MESSAGE_CLASS, PID_SUBJECT, PID_SUBMIT_TIME, PID_BODY, PID_HTML = 0x001A, 0x0037, 0x0039, 0x1000, 0x1013
PID_SENDER_NAME, PID_SENDER_SMTP, PID_INTERNET_CPID = 0x0C1A, 0x5D01, 0x3FDE
PID_RECIPIENT_TYPE, PID_DISPLAY_NAME, PID_SMTP_ADDRESS = 0x0C15, 0x3001, 0x39FE
PID_ATTACH_DATA, PID_ATTACH_METHOD, PID_ATTACH_LONG_FILENAME, PID_ATTACH_MIME_TAG = 0x3701, 0x3705, 0x3707, 0x370E
PID_ATTACHMENT_HIDDEN = 0x7FFE

Property = tuple[int, int, object]  # (pid, type, value)


@dataclass
class MsgAttachment:
    name: str = ""
    data: bytes = b""
    mime_type: str = ""
    hidden: bool = False
    embedded: MsgMail | None = None  # an attached Outlook item (attach method 5)


@dataclass
class MsgMail:
    subject: str = ""
    sender_name: str = ""
    sender_address: str = ""
    to: list[tuple[str, str]] = field(default_factory=list)
    cc: list[tuple[str, str]] = field(default_factory=list)
    sent: datetime | None = None
    body: str | None = None
    html: str | None = None
    attachments: list[MsgAttachment] = field(default_factory=list)


def _properties_stream(header: bytes, properties: list[Property]) -> tuple[bytes, dict[str, object]]:
    """The `__properties_version1.0` stream, and the streams (or storages) of the variable-length values."""
    entries, streams = [header], {}
    for pid, ptype, value in properties:
        tag = struct.pack("<HH", ptype, pid)
        name = f"__substg1.0_{pid:04X}{ptype:04X}"
        if ptype == PT_UNICODE:
            data = str(value).encode("utf-16-le")
            entries.append(tag + struct.pack("<II", 6, len(data) + 2) + bytes(4))
            streams[name] = data
        elif ptype == PT_BINARY:
            entries.append(tag + struct.pack("<II", 6, len(value)) + bytes(4))
            streams[name] = value
        elif ptype == PT_OBJECT:
            entries.append(tag + struct.pack("<II", 6, 0xFFFFFFFF) + bytes(4))
            streams[name] = value  # a storage (dict)
        elif ptype == PT_TIME:
            ticks = int((value - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()) * 10_000_000
            entries.append(tag + struct.pack("<IQ", 6, ticks))
        else:
            entries.append(tag + struct.pack("<Ii4x", 6, int(value)))
    return b"".join(entries), streams


def _message_storage(mail: MsgMail, embedded: bool) -> dict[str, object]:
    properties: list[Property] = [(PID_MESSAGE_CLASS, PT_UNICODE, "IPM.Note"), (PID_SUBJECT, PT_UNICODE, mail.subject)]
    if mail.sender_name:
        properties.append((PID_SENDER_NAME, PT_UNICODE, mail.sender_name))
    if mail.sender_address:
        properties.append((PID_SENDER_SMTP, PT_UNICODE, mail.sender_address))
    if mail.sent:
        properties.append((PID_SUBMIT_TIME, PT_TIME, mail.sent))
    if mail.body is not None:
        properties.append((PID_BODY, PT_UNICODE, mail.body))
    if mail.html is not None:
        properties += [(PID_HTML, PT_BINARY, mail.html.encode("utf-8")), (PID_INTERNET_CPID, PT_INT32, 65001)]
    recipients = [(1, *r) for r in mail.to] + [(2, *r) for r in mail.cc]
    counts = struct.pack("<IIII", len(recipients), len(mail.attachments), len(recipients), len(mail.attachments))
    header = bytes(8) + counts + (b"" if embedded else bytes(8))
    stream, storage = _properties_stream(header, properties)
    storage["__properties_version1.0"] = stream
    if not embedded:
        storage["__nameid_version1.0"] = {}
    for i, (kind, name, address) in enumerate(recipients):
        recipient_properties: list[Property] = [
            (PID_RECIPIENT_TYPE, PT_INT32, kind),
            (PID_DISPLAY_NAME, PT_UNICODE, name),
            (PID_SMTP_ADDRESS, PT_UNICODE, address),
        ]
        stream, recipient = _properties_stream(bytes(8), recipient_properties)
        storage[f"__recip_version1.0_#{i:08X}"] = {"__properties_version1.0": stream, **recipient}
    for i, attachment in enumerate(mail.attachments):
        properties = [(PID_ATTACH_LONG_FILENAME, PT_UNICODE, attachment.name)] if attachment.name else []
        if attachment.embedded is not None:
            properties += [
                (PID_ATTACH_METHOD, PT_INT32, 5),
                (PID_ATTACH_DATA, PT_OBJECT, _message_storage(attachment.embedded, embedded=True)),
            ]
        else:
            properties += [(PID_ATTACH_METHOD, PT_INT32, 1), (PID_ATTACH_DATA, PT_BINARY, attachment.data)]
        if attachment.mime_type:
            properties.append((PID_ATTACH_MIME_TAG, PT_UNICODE, attachment.mime_type))
        if attachment.hidden:
            properties.append((PID_ATTACHMENT_HIDDEN, PT_BOOLEAN, 1))
        stream, attached = _properties_stream(bytes(8), properties)
        storage[f"__attach_version1.0_#{i:08X}"] = {"__properties_version1.0": stream, **attached}
    return storage


def build_msg(mail: MsgMail) -> bytes:
    """The bytes of a .msg file holding `mail`."""
    return build_compound_file(_message_storage(mail, embedded=False))


# --- MS-CFB, version 3 (512-byte sectors) ---

SECTOR, MINI_SECTOR, MINI_CUTOFF = 512, 64, 4096
FREE, END, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
ENTRY = "<HBBIII16sIQQIQ"  # a directory entry after its 64-byte name


def _sort_key(name: str) -> tuple[int, str]:
    return len(name), name.upper()


def _sectors(n_bytes: int) -> int:
    return math.ceil(n_bytes / SECTOR)


def _directory_entries(root: dict[str, object]) -> list[dict]:
    """The directory, breadth first: each storage's children chained as right siblings, in MS-CFB order."""
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": root}]
    index = 0
    while index < len(entries):
        entry = entries[index]
        if isinstance(entry.get("children"), dict):
            kids = sorted(entry["children"].items(), key=lambda kv: _sort_key(kv[0]))
            first = len(entries)
            for n, (name, value) in enumerate(kids):
                kid = {"name": name, "right": first + n + 1 if n + 1 < len(kids) else NO_STREAM}
                kid.update({"type": 1, "children": value} if isinstance(value, dict) else {"type": 2, "data": value})
                entries.append(kid)
            entry["child"] = first if kids else NO_STREAM
        index += 1
    return entries


def _mini_stream(entries: list[dict]) -> tuple[bytes, list[int], list[dict]]:
    """Streams under the cutoff packed into the mini stream: its bytes, its FAT, and the streams left (large)."""
    mini_stream, mini_fat, large = bytearray(), [], []
    for entry in entries:
        if entry["type"] != 2:
            continue
        data = entry["data"]
        if len(data) >= MINI_CUTOFF:
            large.append(entry)
            continue
        start, count = len(mini_stream) // MINI_SECTOR, math.ceil(len(data) / MINI_SECTOR)
        entry["start"] = start if count else END
        mini_fat += [start + i + 1 for i in range(count - 1)] + ([END] if count else [])
        mini_stream += data + bytes(count * MINI_SECTOR - len(data))
    return bytes(mini_stream), mini_fat, large


def _entry_bytes(entry: dict | None) -> bytes:
    if entry is None:  # an unused slot
        return bytes(64) + struct.pack(ENTRY, 0, 0, 0, NO_STREAM, NO_STREAM, NO_STREAM, bytes(16), 0, 0, 0, 0, 0)
    name = entry["name"].encode("utf-16-le") + b"\0\0"
    storage = entry["type"] == 1
    size = entry.get("size", len(entry.get("data", b"")))
    return name.ljust(64, b"\0") + struct.pack(
        ENTRY,
        len(name),
        entry["type"],
        1,  # black
        NO_STREAM,
        entry.get("right", NO_STREAM),
        entry.get("child", NO_STREAM),
        bytes(16),
        0,
        0,
        0,
        0 if storage else entry.get("start", END),
        0 if storage else size,
    )


def build_compound_file(root: dict[str, object]) -> bytes:
    """A compound file from a tree: a dict is a storage, bytes a stream. Sectors: FAT, directory, mini FAT, mini
    stream, then the large streams."""
    entries = _directory_entries(root)
    mini_stream, mini_fat, large = _mini_stream(entries)
    n_dir = _sectors(len(entries) * 128)
    n_mini_fat = _sectors(len(mini_fat) * 4)
    n_data = n_dir + n_mini_fat + _sectors(len(mini_stream)) + sum(_sectors(len(e["data"])) for e in large)
    n_fat = 1
    while n_fat * SECTOR // 4 < n_fat + n_data:
        n_fat += 1
    assert n_fat <= 109, "too large for a header-only DIFAT"

    fat, body = [FAT_SECTOR] * n_fat, bytearray()

    def chain(data: bytes) -> int:
        count = _sectors(len(data))
        if not count:
            return END
        start = len(fat)
        fat.extend([start + i + 1 for i in range(count - 1)] + [END])
        body.extend(data + bytes(count * SECTOR - len(data)))
        return start

    dir_start = chain(bytes(n_dir * SECTOR))  # written once the streams have their sectors
    mini_fat_start = chain(b"".join(struct.pack("<I", v) for v in mini_fat))
    entries[0]["start"], entries[0]["size"] = chain(mini_stream), len(mini_stream)
    for entry in large:
        entry["start"] = chain(entry["data"])
    directory = b"".join(map(_entry_bytes, entries)) + _entry_bytes(None) * (n_dir * 4 - len(entries))
    body[: len(directory)] = directory

    fat += [FREE] * (n_fat * SECTOR // 4 - len(fat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        bytes(16),
        0x003E,  # minor version
        3,  # major version: 512-byte sectors
        0xFFFE,  # little-endian
        9,
        6,
        bytes(6),
        0,
        n_fat,
        dir_start,
        0,
        MINI_CUTOFF,
        mini_fat_start,
        n_mini_fat,
        END,  # no DIFAT sector
        0,
    ) + struct.pack("<109I", *range(n_fat), *[FREE] * (109 - n_fat))
    return header + b"".join(struct.pack("<I", v) for v in fat) + bytes(body)
