import email.policy
import io
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser

import openpyxl
import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from mail_testing import MsgAttachment, MsgMail, build_msg

from components.converters.mail_attachment_extractor import MailAttachmentExtractor
from components.converters.mail_to_document import MailToDocument

pytestmark = pytest.mark.unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _mail(subject: str, sender: str = "Jean Dupont <jean.dupont@exemple.fr>", body: str = "Bonjour") -> EmailMessage:
    message = EmailMessage(policy=email.policy.default)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = "marie.durand@moa.fr"
    message["Date"] = "Tue, 05 Mar 2024 09:30:00 +0000"
    message.set_content(body)
    return message


def _xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Lot", "Montant HT"])
    workbook.active.append([1, 312000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def mail_file(tmp_path):
    """A mail with a PDF, an xlsx sent as octet-stream, an inline image without file name, and an attached mail
    holding its own attachment."""
    inner = _mail("RE: planning", sender="Paul Roux <paul.roux@moe.fr>", body="Planning joint.")
    inner.replace_header("Date", "Mon, 04 Mar 2024 17:00:00 +0100")
    inner.add_attachment(b"%PDF-1.4 planning", maintype="application", subtype="pdf", filename="planning.pdf")
    outer = _mail("Devis lot 2")
    outer.add_attachment(b"%PDF-1.4 devis", maintype="application", subtype="pdf", filename="devis.pdf")
    outer.add_attachment(_xlsx(), maintype="application", subtype="octet-stream", filename="quantites.xlsx")
    outer.add_attachment(b"\x89PNG", maintype="image", subtype="png", disposition="inline")
    outer.add_attachment(inner, filename="planning.eml")
    path = tmp_path / "devis.eml"
    path.write_bytes(outer.as_bytes())
    return path


def test_to_dict_from_dict():
    data = component_to_dict(MailAttachmentExtractor(max_depth=2, max_attachments=5), "mail_attachments")
    assert data["init_parameters"] == {"max_depth": 2, "max_attachments": 5, "max_attachment_bytes": 52428800}
    assert component_from_dict(MailAttachmentExtractor, data, "mail_attachments").max_depth == 2


def test_sources_pass_unchanged_then_attachments(mail_file, tmp_path):
    other = tmp_path / "cctp.pdf"
    stream = ByteStream(b"a;b", mime_type="text/csv", meta={"file_path": "x.csv"})
    sources = MailAttachmentExtractor().run(sources=[str(other), mail_file, stream])["sources"]
    assert sources[:3] == [str(other), mail_file, stream]
    extracted = sources[3:]
    outer = {
        "file_path": str(mail_file),
        "mail_subject": "Devis lot 2",
        "mail_from": "Jean Dupont <jean.dupont@exemple.fr>",
        "mail_date": "2024-03-05T10:30:00+01:00",
    }
    assert [(s.mime_type, s.meta) for s in extracted] == [
        ("application/pdf", {**outer, "attachment": "devis.pdf", "parent": "devis.eml"}),
        (XLSX, {**outer, "attachment": "quantites.xlsx", "parent": "devis.eml"}),
        ("message/rfc822", {**outer, "attachment": "planning.eml", "parent": "devis.eml"}),
        (
            "application/pdf",
            {
                "file_path": str(mail_file),
                "mail_subject": "RE: planning",
                "mail_from": "Paul Roux <paul.roux@moe.fr>",
                "mail_date": "2024-03-04T17:00:00+01:00",
                "attachment": "planning.eml/planning.pdf",
                "parent": "devis.eml/planning.eml",
            },
        ),
    ]
    assert extracted[0].data == b"%PDF-1.4 devis"
    assert openpyxl.load_workbook(io.BytesIO(extracted[1].data)).active["B2"].value == 312000
    assert BytesParser(policy=email.policy.default).parsebytes(extracted[2].data)["subject"] == "RE: planning"
    assert extracted[3].data == b"%PDF-1.4 planning"


def test_attached_mail_is_converted_with_its_own_headers(mail_file):
    attached = MailAttachmentExtractor().run(sources=[mail_file])["sources"][3]
    (doc,) = MailToDocument(store_full_path=True).run(sources=[attached])["documents"]
    assert doc.content.startswith("# RE: planning\n\nDe : Paul Roux <paul.roux@moe.fr>\n")
    assert doc.meta["attachment"] == "planning.eml"
    assert doc.meta["parent"] == "devis.eml"
    assert doc.meta["file_path"] == str(mail_file)
    assert doc.meta["mail_date"] == "2024-03-04T17:00:00+01:00"
    assert doc.meta["attachments"] == ["planning.pdf"]


def test_limits_are_logged(tmp_path, caplog):
    level3 = _mail("niveau 3")
    level3.add_attachment(b"%PDF 4", maintype="application", subtype="pdf", filename="profond.pdf")
    level2 = _mail("niveau 2")
    level2.add_attachment(level3, filename="n3.eml")
    outer = _mail("niveau 1")
    outer.add_attachment(b"x" * 2000, maintype="application", subtype="pdf", filename="gros.pdf")
    for n in range(3):
        outer.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename=f"p{n}.pdf")
    outer.add_attachment(level2, filename="n2.eml")
    path = tmp_path / "lourd.eml"
    path.write_bytes(outer.as_bytes())
    extractor = MailAttachmentExtractor(max_depth=2, max_attachments=4, max_attachment_bytes=1000)
    with caplog.at_level(logging.WARNING):
        sources = extractor.run(sources=[path])["sources"]
    assert [s.meta["attachment"] for s in sources[1:]] == ["p0.pdf", "p1.pdf", "p2.pdf"]
    assert f"Attachment gros.pdf of {path} left out: 2000 bytes, more than 1000" in caplog.text
    assert f"1 attachments of lourd.eml in {path} left out: more than 4" in caplog.text

    sources = MailAttachmentExtractor(max_depth=2).run(sources=[path])["sources"]
    names = ["gros.pdf", "p0.pdf", "p1.pdf", "p2.pdf", "n2.eml", "n2.eml/n3.eml"]
    assert [s.meta["attachment"] for s in sources[1:]] == names
    assert f"Attachments of n2.eml/n3.eml in {path} left out: mails nested more than 2 deep" in caplog.text
    assert [s.meta["attachment"] for s in MailAttachmentExtractor(max_depth=3).run(sources=[path])["sources"][-2:]] == [
        "n2.eml/n3.eml",
        "n2.eml/n3.eml/profond.pdf",
    ]
    assert MailAttachmentExtractor(max_depth=0).run(sources=[path])["sources"] == [path]


def test_msg_with_an_attached_outlook_item(tmp_path):
    embedded = MsgMail(
        subject="RE: planning",
        sender_name="Paul Roux",
        sender_address="paul.roux@moe.fr",
        sent=datetime(2024, 3, 4, 16, 0, tzinfo=UTC),
        body="Planning joint.",
        attachments=[MsgAttachment("planning.pdf", b"%PDF-1.4 planning")],
    )
    msg = MsgMail(
        subject="Devis lot 2",
        sender_name="Jean Dupont",
        sender_address="jean.dupont@exemple.fr",
        body="Bonjour",
        attachments=[
            MsgAttachment("quantites.xlsx", _xlsx()),
            MsgAttachment("image001.png", b"\x89PNG", "image/png", hidden=True),
            MsgAttachment("", embedded=embedded),
        ],
    )
    path = tmp_path / "relance.msg"
    path.write_bytes(build_msg(msg))
    extracted = MailAttachmentExtractor().run(sources=[path])["sources"][1:]
    assert [(s.meta["attachment"], s.meta["parent"], s.mime_type) for s in extracted] == [
        ("quantites.xlsx", "relance.msg", XLSX),
        ("RE: planning.eml", "relance.msg", "message/rfc822"),
        ("RE: planning.eml/planning.pdf", "relance.msg/RE: planning.eml", "application/pdf"),
    ]
    assert extracted[2].meta["mail_date"] == "2024-03-04T17:00:00+01:00"
    assert extracted[2].data == b"%PDF-1.4 planning"
    (doc,) = MailToDocument().run(sources=[extracted[1]])["documents"]
    assert doc.content == (
        "# RE: planning\n\nDe : Paul Roux <paul.roux@moe.fr>\nDate : 04/03/2024 17:00\n"
        "Pièces jointes : planning.pdf\n\nPlanning joint."
    )


def test_bytestream_mail_and_base64_attached_mail(caplog):
    inner = _mail("Transfert")
    inner.add_attachment(b"%PDF x", maintype="application", subtype="pdf", filename="x.pdf")
    outer = _mail("Courrier")
    outer.add_attachment(inner.as_bytes(), maintype="message", subtype="rfc822", filename="t.eml")  # base64
    stream = ByteStream(outer.as_bytes(), mime_type="message/rfc822", meta={"file_path": "/boite/courrier.eml"})
    broken = ByteStream(b"not OLE", mime_type="application/vnd.ms-outlook", meta={"file_path": "/boite/cassé.msg"})
    with caplog.at_level(logging.WARNING):
        sources = MailAttachmentExtractor().run(sources=[stream, broken])["sources"]
    assert sources[:2] == [stream, broken]
    assert [(s.meta["file_path"], s.meta["attachment"], s.meta["parent"]) for s in sources[2:]] == [
        ("/boite/courrier.eml", "t.eml", "courrier.eml"),
        ("/boite/courrier.eml", "t.eml/x.pdf", "courrier.eml/t.eml"),
    ]
    assert sources[3].data == b"%PDF x"
    assert "Could not read the attachments of" in caplog.text
