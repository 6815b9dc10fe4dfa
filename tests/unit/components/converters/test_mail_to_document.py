import email.policy
import logging
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ByteStream
from mail_testing import MsgAttachment, MsgMail, build_msg

from components.converters.mail_to_document import (
    MailToDocument,
    attachment_mime_type,
    decode_text,
    read_mail,
)

pytestmark = pytest.mark.unit


def _mail(subject="Devis lot 2 - RD 12", **headers) -> EmailMessage:
    message = EmailMessage(policy=email.policy.default)
    message["Subject"] = subject
    message["From"] = headers.get("sender", "Jean Dupont <jean.dupont@exemple.fr>")
    message["To"] = headers.get("to", "Marie Durand <marie.durand@moa.fr>, lots@moa.fr")
    if "cc" in headers:
        message["Cc"] = headers["cc"]
    message["Date"] = "Tue, 05 Mar 2024 09:30:00 +0000"
    return message


@pytest.fixture
def eml_with_attachments(tmp_path):
    message = _mail(cc='"Martin, Luc" <luc.martin@moe.fr>')
    message.set_content("Bonjour,\r\n\r\nci-joint notre devis.\r\n\r\n\r\n\r\nCordialement\r\n")
    message.add_attachment(b"%PDF-1.4 devis", maintype="application", subtype="pdf", filename="devis.pdf")
    message.add_attachment(b"PK xlsx", maintype="application", subtype="octet-stream", filename="quantites.xlsx")
    path = tmp_path / "2024-03-05 devis.eml"
    path.write_bytes(message.as_bytes())
    return path


def test_to_dict_from_dict():
    data = component_to_dict(MailToDocument(store_full_path=True), "mail_converter")
    assert data["init_parameters"] == {"store_full_path": True}
    assert component_from_dict(MailToDocument, data, "mail_converter").store_full_path


def test_eml_with_attachments(eml_with_attachments):
    (doc,) = MailToDocument(store_full_path=True).run(sources=[eml_with_attachments])["documents"]
    assert doc.content == (
        "# Devis lot 2 - RD 12\n"
        "\n"
        "De : Jean Dupont <jean.dupont@exemple.fr>\n"
        "À : Marie Durand <marie.durand@moa.fr>, lots@moa.fr\n"
        "Cc : Martin, Luc <luc.martin@moe.fr>\n"
        "Date : 05/03/2024 10:30\n"
        "Pièces jointes : devis.pdf, quantites.xlsx\n"
        "\n"
        "Bonjour,\n\nci-joint notre devis.\n\nCordialement"
    )
    assert {k: v for k, v in doc.meta.items() if k != "file_path"} == {
        "title": "Devis lot 2 - RD 12",
        "mail_subject": "Devis lot 2 - RD 12",
        "mail_from": "Jean Dupont <jean.dupont@exemple.fr>",
        "mail_to": ["Marie Durand <marie.durand@moa.fr>", "lots@moa.fr"],
        "mail_cc": ["Martin, Luc <luc.martin@moe.fr>"],
        "mail_date": "2024-03-05T10:30:00+01:00",
        "attachments": ["devis.pdf", "quantites.xlsx"],
    }
    assert doc.meta["file_path"] == str(eml_with_attachments)


def test_html_only_body_becomes_markdown():
    message = _mail(subject="Compte rendu")
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>Bonjour <b>Marie</b>,</p>"
        "<ul><li>Terrassements</li><li>Chaussée</li></ul><table><tr><th>Lot</th><th>Montant</th></tr>"
        "<tr><td>1</td><td>312 000</td></tr></table></body></html>",
        subtype="html",
    )
    mail = read_mail(message.as_bytes())
    assert (
        mail.body
        == "Bonjour **Marie**,\n\n* Terrassements\n* Chaussée\n\n| Lot | Montant |\n| --- | --- |\n| 1 | 312 000 |"
    )


def test_plain_text_is_preferred_to_html():
    message = _mail()
    message.set_content("Texte brut")
    message.add_alternative("<p>Texte HTML</p>", subtype="html")
    assert read_mail(message.as_bytes()).body == "Texte brut"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("quoted-printable", b"Montant : 1 200 =80 HT, d=E9j=E0 r=E9gl=E9 =\r\n(lot 2)\r\n"),
        ("8bit", b"Montant : 1 200 \x80 HT, d\xe9j\xe0 r\xe9gl\xe9 (lot 2)\r\n"),
        ("base64", b"TW9udGFudCA6IDEgMjAwIIAgSFQsIGTpauAgculnbOkgKGxvdCAyKQ0K\r\n"),
    ],
)
def test_latin1_mails_are_read_as_windows_1252(encoding, body):
    raw = (
        b"From: Jean <jean@exemple.fr>\r\nTo: marie@moa.fr\r\nSubject: R\xe9union de chantier\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n"
    )
    mail = read_mail(raw + body)
    assert mail.body == "Montant : 1 200 € HT, déjà réglé (lot 2)"
    assert mail.subject == "Réunion de chantier"  # a raw 8-bit header


def test_decode_text_falls_back_from_a_wrong_charset():
    assert decode_text("déjà".encode(), "us-ascii") == "déjà"
    assert decode_text("déjà".encode("cp1252"), "utf-8") == "déjà"
    assert decode_text("déjà".encode("cp1252"), "x-unknown") == "déjà"
    assert decode_text("Ελλάδα".encode("iso-8859-7"), "iso-8859-7") == "Ελλάδα"


@pytest.mark.parametrize(
    ("declared", "name", "expected"),
    [
        (
            "application/octet-stream",
            "quantites.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("application/pdf", "devis.bin", "application/pdf"),
        (None, "relance.msg", "application/vnd.ms-outlook"),
        ("text/plain", "message.eml", "message/rfc822"),
        ("application/octet-stream", "inconnu", "application/octet-stream"),
    ],
)
def test_attachment_mime_type(declared, name, expected):
    assert attachment_mime_type(declared, name) == expected


def test_inline_images_and_attached_mails():
    message = _mail()
    message.set_content("Texte")
    message.add_alternative("<p>Texte <img src='cid:logo'></p>", subtype="html")
    html = message.get_payload()[1]
    html.add_related(
        b"\x89PNG logo", maintype="image", subtype="png", cid="<logo>", filename="image001.png", disposition="inline"
    )
    message.add_attachment(b"\x89PNG plan", maintype="image", subtype="png")  # unnamed, inline: not an attachment
    message.get_payload()[-1].replace_header("Content-Disposition", "inline")
    inner = _mail(subject="RE: planning")
    inner.set_content("Réponse")
    message.add_attachment(inner)  # no file name: named after its subject
    message.add_attachment(b"%PDF a", maintype="application", subtype="pdf", filename="C:\\Temp\\devis.pdf")
    message.add_attachment(b"%PDF b", maintype="application", subtype="pdf", filename="devis.pdf")
    mail = read_mail(message.as_bytes())
    assert [(a.name, a.mime_type, a.is_mail) for a in mail.attachments] == [
        ("RE: planning.eml", "message/rfc822", True),
        ("devis.pdf", "application/pdf", False),
        ("devis (2).pdf", "application/pdf", False),
    ]
    assert read_mail(mail.attachments[0].data).body == "Réponse"
    assert mail.body == "Texte"


def test_msg_file(tmp_path):
    embedded = MsgMail(subject="RE: planning", sender_name="Paul", sender_address="paul@moe.fr", body="Vu.")
    msg = MsgMail(
        subject="Devis lot 2",
        sender_name="Jean Dupont",
        sender_address="jean.dupont@exemple.fr",
        to=[("Marie Durand", "marie.durand@moa.fr")],
        cc=[("Luc Martin", "luc.martin@moe.fr")],
        sent=datetime(2024, 7, 1, 14, 5, tzinfo=UTC),
        body="Bonjour,\r\nci-joint le devis.\r\n",
        attachments=[
            MsgAttachment("devis.pdf", b"%PDF-1.4 " + b"0" * 5000, "application/pdf"),
            MsgAttachment("image001.png", b"\x89PNG", "image/png", hidden=True),
            MsgAttachment("planning.msg", embedded=embedded),
        ],
    )
    path = tmp_path / "relance.msg"
    path.write_bytes(build_msg(msg))
    (doc,) = MailToDocument().run(sources=[path])["documents"]
    assert doc.content == (
        "# Devis lot 2\n\nDe : Jean Dupont <jean.dupont@exemple.fr>\nÀ : Marie Durand <marie.durand@moa.fr>\n"
        "Cc : Luc Martin <luc.martin@moe.fr>\nDate : 01/07/2024 16:05\nPièces jointes : devis.pdf, planning.eml\n\n"
        "Bonjour,\nci-joint le devis."
    )
    assert doc.meta["mail_date"] == "2024-07-01T16:05:00+02:00"
    assert doc.meta["mail_to"] == ["Marie Durand <marie.durand@moa.fr>"]
    assert doc.meta["file_path"] == "relance.msg"


def test_msg_html_body_and_bytestream_source():
    data = build_msg(MsgMail(subject="", html="<p>Réunion <i>jeudi</i></p>"))
    stream = ByteStream(data=data, mime_type="application/vnd.ms-outlook", meta={"file_path": "/d/CR 12.msg"})
    (doc,) = MailToDocument().run(sources=[stream], meta={"lot": "2"})["documents"]
    assert doc.content == "# (sans objet)\n\nRéunion *jeudi*"
    assert doc.meta["title"] == "CR 12"
    assert doc.meta["lot"] == "2"
    assert "mail_date" not in doc.meta


def test_unreadable_mails_are_skipped_and_logged(tmp_path, caplog):
    fake = tmp_path / "faux.msg"
    fake.write_bytes(b"From: x\r\n\r\nnot an OLE file")
    message = _mail()
    message.set_content("ok")
    with caplog.at_level(logging.WARNING):
        result = MailToDocument().run(sources=[tmp_path / "absent.eml", fake, ByteStream(message.as_bytes())])
    assert [d.meta["title"] for d in result["documents"]] == ["Devis lot 2 - RD 12"]
    assert f"Could not read {fake}. Skipping it." in caplog.text
    assert f"Could not read {tmp_path / 'absent.eml'}. Skipping it." in caplog.text
