"""
A generated folder of mixed formats, for the formats benchmark: ~18 documents of one fictional building contractor,
« Constructions Hautes-Terres » (CHT), unrelated to the sample corpus, with its questions and the text of its scans.

    .venv/bin/python bench/formats_corpus.py OUT_DIR

writes into OUT_DIR/documents:
- the documents: spreadsheets (.xlsx with merged titles, a 2-row header, a formula with a cached value, a hidden
  sheet; .ods as LibreOffice writes it), e-mails (.eml: a PDF attachment, an HTML-only body, a forwarded mail with
  an .xlsx attached), slides (.pptx with a table and notes), scans (an image-only PDF, a PNG, a 2-page TIFF, a PDF
  whose last page is scanned), text PDFs (a ruled table over 4 pages with running header and footer, two columns),
  a .docx, a .md, an unsupported .dwg and an empty .pdf;
- `questions.yml`: the questions, in the schema of samples/questions.yml plus `format` (the format of the file that
  holds the answer) and, for an e-mail's attachment, `attachment_of` (the mail file); `expected_source` is then the
  attachment's own name, the last part of the source the indexer gives it ("<mail>/<attachment>");
- `scans.json`: for every scanned page, `{file, page, text}`, the exact text drawn (a table: its title, then one
  line per row, cells joined by a space), for OCR error rates.

Everything is generated offline and deterministically (fixed seeds, dates and zip timestamps): two runs give the same
bytes, so a benchmark's index cache keyed by the files' bytes is reused. Every name, place and figure is invented.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scan_render import render_scan, render_table_scan  # noqa: E402

SEED = 2025
DOCUMENTS = "documents"  # the generated files, apart from questions.yml and scans.json
FROZEN = datetime(2025, 10, 20, 9, 0, 0)  # every file's own dates (zip entries, document properties)
PARIS = timezone(timedelta(hours=2))

# ------------------------------------------------------------------------------------------ the fictional company
COMPANY = "Constructions Hautes-Terres"
HOME_TOWN = "Montferrand-sur-Alagne"
MAIL_DOMAIN = "constructions-hautes-terres.fr"
PRESIDENT = "Bernard Vialatte"

SCHOOL = "CHT-25-031"  # extension du groupe scolaire de Vézelin
GENETS = "CHT-25-044"  # réhabilitation de la résidence Les Genêts
RESERVOIR = "CHT-25-052"  # réservoir de Puy-Sarrat
BRIDGE = "CHT-24-118"  # pont de la Sagne
CEMETERY = "CHT-25-058"  # extension du cimetière de Lascombe
QUOTE = "DV-0925-114"  # rampe PMR et parvis de la clinique Sainte-Aurèle

SCHOOL_NAME = "Extension du groupe scolaire Jean-Rouquette à Vézelin"
SCHOOL_CONTRACT = "2025-VZ-07"
GENETS_NAME = "Réhabilitation de 24 logements, résidence Les Genêts à Lascombe"
GENETS_CONTRACT = "HHC-2025-014"
RESERVOIR_NAME = "Réservoir semi-enterré 800 m³ de Puy-Sarrat"
CLIENT_SCHOOL = "Commune de Vézelin"
CLIENT_GENETS = "Habitat des Hautes-Combes"
CLIENT_RESERVOIR = "Syndicat des eaux du Haut-Sarrat (SEHS)"
CLIENT_CC = "Communauté de communes des Monts d'Alagne"
ARCHITECT_SCHOOL = "Atelier Brousse & Lhermet Architectes"
ENGINEER_RESERVOIR = "Cabinet Altimètre Ingénierie"

# ------------------------------------------------------------------------------------------ labels of the files
DQE_SHEET = "DQE"
SITUATION_SHEETS = ("Récapitulatif", "Détail", "Calculs")  # the last one hidden
DEVIS_SHEET = "Devis"
STAFF_SHEETS = ("Semaine 41", "Semaine 40")
UNANSWERED = "Information absente du corpus."

# ------------------------------------------------------------------------------------------ formatting (French)


def money(value: Decimal | float | int, decimals: int = 2) -> str:
    """`1186240` -> `1 186 240,00`, as a French reader sees an amount."""
    text = f"{Decimal(str(value)):,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",")


def percent(value: float | Decimal, decimals: int = 1) -> str:
    """`0.625` -> `62,5 %`."""
    return f"{money(Decimal(str(value)) * 100, decimals)} %"


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fr_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def question(  # noqa: PLR0917
    text: str, source: str | None, answer: str, kind: str, fmt: str, facts: list[str], **extra: str
) -> dict[str, Any]:
    return {
        "question": text,
        "expected_source": source,
        "answer": answer if source else UNANSWERED,
        "kind": kind,
        "format": fmt,
        "key_facts": facts if source else [],
        **extra,
    }


def frozen_zip(data: bytes) -> bytes:
    """
    A zip-based file (xlsx, ods, docx, pptx) with fixed entry timestamps and a fixed modification date in its
    properties (openpyxl stamps the time of saving): the same bytes at every run.
    """
    stamp = FROZEN.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>", content
                )
            frozen = zipfile.ZipInfo(info.filename, date_time=FROZEN.timetuple()[:6])
            frozen.compress_type = info.compress_type
            frozen.external_attr = info.external_attr
            target.writestr(frozen, content)
    return buffer.getvalue()


def freeze_zip(path: Path) -> None:
    path.write_bytes(frozen_zip(path.read_bytes()))


# ------------------------------------------------------------------------------------------ spreadsheets (openpyxl)
def _workbook() -> Any:
    from openpyxl import Workbook  # noqa: PLC0415

    workbook = Workbook()
    workbook.properties.creator = COMPANY
    workbook.properties.created = workbook.properties.modified = FROZEN
    return workbook


def _save_workbook(workbook: Any, path: Path, cached: dict[tuple[str, str], Decimal] | None = None) -> None:
    """Save, then give formula cells their cached value in the sheet XML, as Excel does (openpyxl writes none)."""
    workbook.save(path)
    if cached:
        names = {ws.title: f"xl/worksheets/sheet{i}.xml" for i, ws in enumerate(workbook.worksheets, start=1)}
        with zipfile.ZipFile(path) as source:
            entries = {info.filename: source.read(info) for info in source.infolist()}
        for (sheet, ref), value in cached.items():
            xml = entries[names[sheet]].decode("utf-8")
            pattern = re.compile(rf'(<c r="{ref}"[^>]*>)<f>([^<]*)</f>(?:<v\s*/>|<v>[^<]*</v>)?(</c>)')
            xml, count = pattern.subn(rf"\g<1><f>\g<2></f><v>{float(value)!r}</v>\g<3>", xml)
            if count != 1:
                raise RuntimeError(f"formula cell {sheet}!{ref} not found in {path.name}")
            entries[names[sheet]] = xml.encode("utf-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for name, data in entries.items():
                target.writestr(name, data)
    freeze_zip(path)


DQE_ITEMS: list[tuple[str, str, str, int, str]] = [  # n°, désignation, unité, quantité, prix unitaire HT
    ("1", "Installations de chantier", "", 0, ""),
    ("1.1", "Installation, repli et signalisation de chantier", "Ft", 1, "28500.00"),
    ("1.2", "Études d'exécution et plans de ferraillage", "Ft", 1, "14200.00"),
    ("2", "Terrassements", "", 0, ""),
    ("2.1", "Décapage de terre végétale ép. 30 cm", "m²", 1450, "2.85"),
    ("2.2", "Déblais en terrain rocheux au brise-roche hydraulique", "m³", 2380, "38.60"),
    ("2.3", "Remblais périphériques en matériaux sélectionnés 0/31,5", "m³", 640, "27.40"),
    ("3", "Génie civil", "", 0, ""),
    ("3.1", "Béton de propreté C16/20 ép. 10 cm", "m²", 420, "14.80"),
    ("3.2", "Béton C30/37 XF3 pour radier", "m³", 186, "195.00"),
    ("3.3", "Béton C30/37 XF3 pour voiles, coffrage compris", "m³", 232, "312.50"),
    ("3.4", "Armatures HA B500B", "kg", 48500, "1.92"),
    ("3.5", "Dalle de couverture préfabriquée ép. 20 cm", "m²", 345, "168.00"),
    ("3.6", "Joints waterstop PVC 240 mm", "ml", 96, "46.20"),
    ("4", "Étanchéité et équipements", "", 0, ""),
    ("4.1", "Revêtement d'imperméabilisation intérieur (contact alimentaire)", "m²", 1080, "42.75"),
    ("4.2", "Échelle inox avec crinoline", "u", 2, "3850.00"),
    ("4.3", "Capot d'accès inox étanche 1000 x 1000", "u", 2, "4620.00"),
]


def write_dqe(out: Path) -> list[dict[str, Any]]:
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415

    name = f"DQE_{RESERVOIR}.xlsx"
    workbook = _workbook()
    sheet = workbook.active
    sheet.title = DQE_SHEET
    titles = [
        f"{COMPANY.upper()} — Détail quantitatif estimatif",
        f"Affaire {RESERVOIR} — {RESERVOIR_NAME} — Lot 1 Génie civil",
        f"Maître d'ouvrage : {CLIENT_RESERVOIR} — indice B du 12/09/2025",
    ]
    for row, title in enumerate(titles, start=1):
        sheet.cell(row, 1, title).font = Font(bold=row == 1, size=14 if row == 1 else 11)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=6)
    for column, label in enumerate(["N° prix", "Désignation", "Unité", "Quantité"], start=1):
        sheet.cell(5, column, label)
        sheet.merge_cells(start_row=5, start_column=column, end_row=6, end_column=column)
    sheet.cell(5, 5, "Prix HT (€)")
    sheet.merge_cells("E5:F5")
    sheet.cell(6, 5, "Unitaire")
    sheet.cell(6, 6, "Total")
    for row in (5, 6):
        for column in range(1, 7):
            sheet.cell(row, column).font = Font(bold=True)
            sheet.cell(row, column).alignment = Alignment(horizontal="center", vertical="center")
    total = Decimal(0)
    lines: dict[str, tuple[int, Decimal, Decimal]] = {}
    row = 7
    for number, label, unit, quantity, price in DQE_ITEMS:
        sheet.cell(row, 1, number)
        sheet.cell(row, 2, label)
        if not unit:
            sheet.cell(row, 1).font = sheet.cell(row, 2).font = Font(bold=True)
        else:
            amount = cents(quantity * Decimal(price))
            total += amount
            lines[number] = (quantity, Decimal(price), amount)
            sheet.cell(row, 3, unit)
            sheet.cell(row, 4, quantity).number_format = "#,##0"
            sheet.cell(row, 5, float(price)).number_format = "#,##0.00"
            sheet.cell(row, 6, float(amount)).number_format = "#,##0.00"
        row += 1
    vat = cents(total * Decimal("0.2"))
    total_ref = f"F{row}"
    sheet.cell(row, 2, "Total HT").font = Font(bold=True)
    sheet.cell(row, 6, f"=SUM(F7:F{row - 1})").number_format = "#,##0.00"
    sheet.cell(row + 1, 2, "TVA 20 %")
    sheet.cell(row + 1, 6, float(vat)).number_format = "#,##0.00"
    sheet.cell(row + 2, 2, "Total TTC").font = Font(bold=True)
    sheet.cell(row + 2, 6, float(total + vat)).number_format = "#,##0.00"
    for column, width in zip("ABCDEF", (9, 62, 8, 12, 14, 16), strict=True):
        sheet.column_dimensions[column].width = width
    _save_workbook(workbook, out / name, {(DQE_SHEET, total_ref): total})
    voiles, steel = lines["3.3"], lines["3.4"]
    return [
        question(
            "Dans le DQE du réservoir de Puy-Sarrat, quel est le prix unitaire HT du béton C30/37 XF3 pour voiles ?",
            name,
            f"{money(voiles[1])} € HT le m³ ({voiles[0]} m³, soit {money(voiles[2])} € HT)",
            "question_chiffree",
            "xlsx",
            [money(voiles[1])],
        ),
        question(
            f"Quelle quantité d'armatures HA B500B est prévue au DQE de l'affaire {RESERVOIR} ?",
            name,
            f"{money(steel[0], 0)} kg à {money(steel[1])} € HT/kg, soit {money(steel[2])} € HT",
            "question_chiffree",
            "xlsx",
            [money(steel[0], 0)],
        ),
        question(
            "Quel est le montant total HT du DQE du lot génie civil du réservoir de Puy-Sarrat ?",
            name,
            f"{money(total)} € HT ({money(total + vat)} € TTC)",
            "question_chiffree",
            "xlsx",
            [money(total)],
        ),
    ]


SITUATION_POSTS: list[tuple[str, str, int, str, str]] = [  # poste, désignation, montant HT, avancement n° 2, n° 3
    ("01", "Installation de chantier", 38400, "0.80", "0.90"),
    ("02", "Terrassements généraux", 64800, "1", "1"),
    ("03", "Fondations superficielles", 142560, "1", "1"),
    ("04", "Dallage sur terre-plein", 96380, "0.40", "0.85"),
    ("05", "Élévations béton armé", 318900, "0.35", "0.625"),
    ("06", "Maçonnerie blocs béton", 187420, "0.10", "0.475"),
    ("07", "Planchers et poutres", 226780, "0", "0.38"),
    ("08", "Préau, structure béton", 74200, "0", "0"),
    ("09", "Réseaux sous dallage", 36800, "0.70", "1"),
]
SCHOOL_INITIAL = sum(post[2] for post in SITUATION_POSTS)  # 1 186 240,00 € HT


def write_situation(out: Path) -> list[dict[str, Any]]:  # noqa: PLR0915
    from openpyxl.styles import Font  # noqa: PLC0415

    name = f"situation_travaux_n3_{SCHOOL}.xlsx"
    workbook = _workbook()
    recap = workbook.active
    recap.title = SITUATION_SHEETS[0]
    detail = workbook.create_sheet(SITUATION_SHEETS[1])
    hidden = workbook.create_sheet(SITUATION_SHEETS[2])
    hidden.sheet_state = "hidden"

    detail.append(
        [
            "Poste",
            "Désignation",
            "Montant marché HT",
            "Avancement n° 2",
            "Avancement n° 3",
            "Cumul HT fin n° 3",
            "Montant HT du mois",
        ]
    )
    for cell in detail[1]:
        cell.font = Font(bold=True)
    cumul = previous = Decimal(0)
    cumuls: dict[str, Decimal] = {}
    for post, label, amount, before, now in SITUATION_POSTS:
        done, done_before = cents(amount * Decimal(now)), cents(amount * Decimal(before))
        cumuls[label] = done
        cumul, previous = cumul + done, previous + done_before
        detail.append([post, label, float(amount), float(before), float(now), float(done), float(done - done_before)])
        row = detail.max_row
        for column, fmt in zip("CDEFG", ("#,##0.00", "0.0%", "0.0%", "#,##0.00", "#,##0.00"), strict=True):
            detail[f"{column}{row}"].number_format = fmt
    detail.append(
        [
            "",
            "Total",
            float(SCHOOL_INITIAL),
            float(previous / SCHOOL_INITIAL),
            float(cumul / SCHOOL_INITIAL),
            float(cumul),
            float(cumul - previous),
        ]
    )
    row = detail.max_row
    for column, fmt in zip("CDEFG", ("#,##0.00", "0.0%", "0.0%", "#,##0.00", "#,##0.00"), strict=True):
        detail[f"{column}{row}"].number_format = fmt
        detail[f"{column}{row}"].font = Font(bold=True)
    for column, width in zip("ABCDEFG", (7, 30, 18, 15, 15, 18, 18), strict=True):
        detail.column_dimensions[column].width = width

    month = cumul - previous
    vat = cents(month * Decimal("0.2"))
    retention = cents((month + vat) * Decimal("0.05"))
    net = month + vat - retention
    recap["A1"] = f"Situation de travaux n° 3 — Affaire {SCHOOL}"
    recap["A1"].font = Font(bold=True, size=14)
    recap.merge_cells("A1:C1")
    recap["A2"] = f"{SCHOOL_NAME} — Lot 2 Gros œuvre"
    recap.merge_cells("A2:C2")
    recap["A3"] = f"Maître d'ouvrage : {CLIENT_SCHOOL} — Maître d'œuvre : {ARCHITECT_SCHOOL}"
    recap.merge_cells("A3:C3")
    recap.append([])
    recap.append(["Rubrique", "Valeur", "Observation"])
    for cell in recap[5]:
        cell.font = Font(bold=True)
    rows: list[tuple[str, Any, str, str]] = [
        ("Date de la situation", datetime(2025, 9, 30), "dd/mm/yyyy", "Travaux de septembre 2025"),
        ("Montant du marché initial HT", SCHOOL_INITIAL, "#,##0.00", f"Marché n° {SCHOOL_CONTRACT}"),
        ("Montant des avenants HT", 0, "#,##0.00", "Aucun avenant notifié"),
        ("Travaux cumulés HT, situation n° 2", previous, "#,##0.00", ""),
        ("Travaux cumulés HT, situation n° 3", cumul, "#,##0.00", ""),
        ("Avancement global", cumul / SCHOOL_INITIAL, "0.0%", ""),
        ("Montant HT de la situation n° 3", month, "#,##0.00", ""),
        ("TVA 20 %", vat, "#,##0.00", ""),
        ("Retenue de garantie 5 % du TTC", -retention, "#,##0.00", ""),
        ("Net à payer TTC", net, "#,##0.00", ""),
        ("Date limite de paiement", datetime(2025, 11, 14), "dd/mm/yyyy", "30 jours après réception"),
    ]
    for label, value, fmt, remark in rows:
        recap.append([label, float(value) if isinstance(value, Decimal) else value, remark])
        recap.cell(recap.max_row, 2).number_format = fmt
    for column, width in zip("ABC", (38, 18, 30), strict=True):
        recap.column_dimensions[column].width = width

    # What a person reading the workbook does not see: none of it may be answerable.
    hidden.append(["Paramètre", "Valeur"])
    hidden.append(["Index BT01 de référence (février 2025)", 129.4])
    hidden.append(["Index BT01 d'août 2025", 132.7])
    hidden.append(["Coefficient de révision K", 1.0255])
    hidden.append(["Marge prévisionnelle à terminaison", 0.087])
    hidden.append(["Provision pour aléas HT", 23500])
    hidden["B5"].number_format = "0.0%"
    hidden["B6"].number_format = "#,##0.00"
    _save_workbook(workbook, out / name)
    raised = cumuls["Élévations béton armé"]
    return [
        question(
            f"Quel est le montant HT de la situation de travaux n° 3 de l'affaire {SCHOOL} ?",
            name,
            f"{money(month)} € HT pour septembre 2025 ; net à payer {money(net)} € TTC après retenue de garantie",
            "question_chiffree",
            "xlsx",
            [money(month)],
        ),
        question(
            "Dans la situation n° 3 du groupe scolaire de Vézelin, quel est l'avancement du poste Élévations béton "
            "armé ?",
            name,
            f"62,5 % (contre 35,0 % à la situation n° 2), soit {money(raised)} € HT cumulés",
            "question_chiffree",
            "xlsx",
            ["62,5 %"],
        ),
        question(
            f"Quel montant cumulé HT le poste Dallage sur terre-plein atteint-il à la situation n° 3 de l'affaire "
            f"{SCHOOL} ?",
            name,
            f"{money(cumuls['Dallage sur terre-plein'])} € HT (85,0 % de 96 380,00 € HT)",
            "question_chiffree",
            "xlsx",
            [money(cumuls["Dallage sur terre-plein"])],
        ),
        question(
            f"Quel coefficient de révision des prix K est appliqué à la situation n° 3 de l'affaire {SCHOOL} ?",
            None,
            "",
            "question_chiffree",
            "xlsx",
            [],
            note="hidden sheet Calculs",
        ),
        question(
            "Quelle est la marge prévisionnelle à terminaison de l'extension du groupe scolaire de Vézelin ?",
            None,
            "",
            "question_chiffree",
            "xlsx",
            [],
            note="hidden sheet Calculs",
        ),
    ]


QUOTE_ITEMS: list[tuple[str, str, str, int, str]] = [
    ("A1", "Démolition de l'enrobé existant et évacuation", "m²", 260, "9.50"),
    ("A2", "Terrassement et réglage de la plateforme", "m³", 85, "32.00"),
    ("B1", "Rampe PMR en béton armé, pente 5 %, y compris paliers", "ml", 26, "412.00"),
    ("B2", "Béton désactivé du parvis ép. 15 cm", "m²", 210, "96.40"),
    ("B3", "Garde-corps et main courante en acier galvanisé", "ml", 34, "245.00"),
    ("C1", "Bandes d'éveil de vigilance podotactiles", "u", 6, "185.00"),
    ("C2", "Caniveau à grille fonte classe C250", "ml", 18, "132.50"),
]


def quote_workbook() -> tuple[bytes, Decimal, Decimal]:
    """The quote DV-0925-114 sent to the clinic (an attachment of a forwarded mail): bytes, total HT, total TTC."""
    from openpyxl.styles import Font  # noqa: PLC0415

    workbook = _workbook()
    sheet = workbook.active
    sheet.title = DEVIS_SHEET
    sheet["A1"] = f"{COMPANY} — Devis {QUOTE} du 19/09/2025"
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.merge_cells("A1:F1")
    sheet["A2"] = "Client : Clinique Sainte-Aurèle, à l'attention de M. Olivier Pagès — validité 3 mois"
    sheet.merge_cells("A2:F2")
    sheet["A3"] = "Objet : création d'une rampe d'accès PMR et réfection du parvis"
    sheet.merge_cells("A3:F3")
    sheet.append([])
    sheet.append(["Réf.", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"])
    for cell in sheet[5]:
        cell.font = Font(bold=True)
    total = Decimal(0)
    for ref, label, unit, quantity, price in QUOTE_ITEMS:
        amount = cents(quantity * Decimal(price))
        total += amount
        sheet.append([ref, label, unit, quantity, float(price), float(amount)])
        sheet.cell(sheet.max_row, 4).number_format = "#,##0"
        sheet.cell(sheet.max_row, 5).number_format = '#,##0.00 "€"'
        sheet.cell(sheet.max_row, 6).number_format = '#,##0.00 "€"'
    vat = cents(total * Decimal("0.2"))
    for label, value in (("Total HT", total), ("TVA 20 %", vat), ("Total TTC", total + vat)):
        sheet.append(["", label, "", "", "", float(value)])
        sheet.cell(sheet.max_row, 6).number_format = '#,##0.00 "€"'
        sheet.cell(sheet.max_row, 2).font = Font(bold=label != "TVA 20 %")
    for column, width in zip("ABCDEF", (6, 52, 7, 10, 16, 16), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return frozen_zip(buffer.getvalue()), total, total + vat


# ------------------------------------------------------------------------------------------ spreadsheet (odfpy)
STAFF_COLUMNS = [
    "Affaire",
    "Chantier",
    "Conducteur de travaux",
    "Chef de chantier",
    "Compagnons CHT",
    "Intérimaires",
    "Sous-traitants",
    "Total",
    "Part d'intérim",
    "Mise à jour",
]
STAFF: dict[str, list[tuple[str, str, str, str, int, int, int]]] = {
    STAFF_SHEETS[0]: [
        (SCHOOL, "Groupe scolaire de Vézelin", "Sandrine Malzieu", "Karim Bouzerda", 9, 2, 4),
        (GENETS, "Résidence Les Genêts, Lascombe", "Julien Roqueplane", "Paulo Teixeira", 6, 3, 11),
        (RESERVOIR, "Réservoir de Puy-Sarrat", "Mathieu Esclangon", "Rémi Fabrègue", 7, 1, 2),
        (CEMETERY, "Extension du cimetière de Lascombe", "Julien Roqueplane", "Noël Brugière", 4, 0, 0),
    ],
    STAFF_SHEETS[1]: [
        (SCHOOL, "Groupe scolaire de Vézelin", "Sandrine Malzieu", "Karim Bouzerda", 8, 3, 3),
        (GENETS, "Résidence Les Genêts, Lascombe", "Julien Roqueplane", "Paulo Teixeira", 6, 2, 9),
        (RESERVOIR, "Réservoir de Puy-Sarrat", "Mathieu Esclangon", "Rémi Fabrègue", 5, 0, 1),
        (CEMETERY, "Extension du cimetière de Lascombe", "Julien Roqueplane", "Noël Brugière", 3, 1, 0),
    ],
}
STAFF_DATES = {STAFF_SHEETS[0]: date(2025, 10, 6), STAFF_SHEETS[1]: date(2025, 9, 29)}


def write_staff(out: Path) -> list[dict[str, Any]]:  # noqa: PLR0915
    from odf.opendocument import OpenDocumentSpreadsheet  # noqa: PLC0415
    from odf.style import Style, TableColumnProperties  # noqa: PLC0415
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow  # noqa: PLC0415
    from odf.text import P  # noqa: PLC0415

    name = "effectifs_chantiers.ods"
    document = OpenDocumentSpreadsheet()
    column_style = Style(name="co1", family="table-column")
    column_style.addElement(TableColumnProperties(columnwidth="3.2cm"))
    document.automaticstyles.addElement(column_style)
    width = len(STAFF_COLUMNS)

    def text_cell(text: str, **attributes: Any) -> Any:
        cell = TableCell(valuetype="string", **attributes)
        cell.addElement(P(text=text))
        return cell

    def number_cell(value: float, shown: str, value_type: str = "float") -> Any:
        cell = TableCell(valuetype=value_type, value=value)
        cell.addElement(P(text=shown))
        return cell

    def date_cell(day: date) -> Any:
        cell = TableCell(valuetype="date", datevalue=day.isoformat())
        cell.addElement(P(text=fr_date(day)))
        return cell

    def pad(row: Any, used: int) -> None:  # LibreOffice writes the rest of the 1024 columns as one repeated cell
        row.addElement(TableCell(numbercolumnsrepeated=1024 - used))

    for sheet_name in STAFF_SHEETS:
        week = sheet_name.split()[-1]
        monday = STAFF_DATES[sheet_name]
        table = Table(name=sheet_name)
        table.addElement(TableColumn(stylename=column_style, numbercolumnsrepeated=width))
        table.addElement(TableColumn(numbercolumnsrepeated=1024 - width))
        title = TableRow()
        title.addElement(
            text_cell(
                f"Effectifs par chantier — semaine {week} (du {fr_date(monday)} au "
                f"{fr_date(monday + timedelta(days=4))})",
                numbercolumnsspanned=width,
                numberrowsspanned=1,
            )
        )
        title.addElement(CoveredTableCell(numbercolumnsrepeated=width - 1))
        pad(title, width)
        table.addElement(title)
        empty = TableRow()
        empty.addElement(TableCell(numbercolumnsrepeated=1024))
        table.addElement(empty)
        header = TableRow()
        for label in STAFF_COLUMNS:
            header.addElement(text_cell(label))
        pad(header, width)
        table.addElement(header)
        totals = [0, 0, 0]
        for code, site, manager, foreman, own, temps, subs in STAFF[sheet_name]:
            row = TableRow()
            for text in (code, site, manager, foreman):
                row.addElement(text_cell(text))
            for value in (own, temps, subs, own + temps + subs):
                row.addElement(number_cell(value, str(value)))
            share = temps / (own + temps + subs)
            row.addElement(number_cell(round(share, 4), percent(share), "percentage"))
            row.addElement(date_cell(monday))
            pad(row, width)
            table.addElement(row)
            totals = [totals[0] + own, totals[1] + temps, totals[2] + subs]
        row = TableRow()
        row.addElement(text_cell("Total"))
        row.addElement(TableCell(numbercolumnsrepeated=3))
        for value in (*totals, sum(totals)):
            row.addElement(number_cell(value, str(value)))
        share = totals[1] / sum(totals)
        row.addElement(number_cell(round(share, 4), percent(share), "percentage"))
        row.addElement(TableCell())
        pad(row, width)
        table.addElement(row)
        rest = TableRow(numberrowsrepeated=1048576 - 4 - len(STAFF[sheet_name]) - 1)
        rest.addElement(TableCell(numbercolumnsrepeated=1024))
        table.addElement(rest)
        document.spreadsheet.addElement(table)
    document.save(str(out / name))
    freeze_zip(out / name)
    genets = STAFF[STAFF_SHEETS[0]][1]
    return [
        question(
            "Qui est le chef de chantier du réservoir de Puy-Sarrat ?",
            name,
            "Rémi Fabrègue (conducteur de travaux : Mathieu Esclangon)",
            "autre",
            "ods",
            ["Rémi Fabrègue"],
        ),
        question(
            "Quel est l'effectif total du chantier de la résidence Les Genêts en semaine 41, et combien de "
            "sous-traitants compte-t-il ?",
            name,
            f"{sum(genets[4:])} personnes : {genets[4]} compagnons CHT, {genets[5]} intérimaires et {genets[6]} "
            "sous-traitants",
            "question_chiffree",
            "ods",
            [str(sum(genets[4:])), str(genets[6])],
        ),
        question(
            "Combien de compagnons CHT travaillent sur le chantier de la clinique Sainte-Aurèle en semaine 41 ?",
            None,
            "",
            "question_chiffree",
            "ods",
            [],
            note="site not in the staff list",
        ),
    ]


# ------------------------------------------------------------------------------------------ PDF (reportlab)
def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics  # noqa: PLC0415
    from reportlab.pdfbase.ttfonts import TTFont  # noqa: PLC0415

    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))
    return "DejaVu", "DejaVu-Bold"


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle  # noqa: PLC0415

    regular, bold = _fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=10),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=regular, fontSize=10, leading=13.5, spaceAfter=6),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=9, leading=11),
    }


def _ruled_table(rows: list[list[str]], widths: list[float], repeat: int = 1) -> Any:
    from reportlab.lib import colors  # noqa: PLC0415
    from reportlab.lib.styles import ParagraphStyle  # noqa: PLC0415
    from reportlab.platypus import Paragraph, Table, TableStyle  # noqa: PLC0415

    regular, bold = _fonts()
    header = ParagraphStyle("header", fontName=bold, fontSize=9, leading=11)
    rows = [[Paragraph(cell, header) for cell in row] for row in rows[:repeat]] + rows[repeat:]
    table = Table(rows, colWidths=widths, repeatRows=repeat)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), regular, 9),
                ("FONT", (0, 0), (-1, repeat - 1), bold, 9),
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("BACKGROUND", (0, 0), (-1, repeat - 1), colors.HexColor("#DDDDDD")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _document(target: Any, title: str, **kwargs: Any) -> Any:
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.lib.units import mm  # noqa: PLC0415
    from reportlab.platypus import SimpleDocTemplate  # noqa: PLC0415

    options = {"leftMargin": 20 * mm, "rightMargin": 20 * mm, "topMargin": 22 * mm, "bottomMargin": 20 * mm}
    return SimpleDocTemplate(target, pagesize=A4, title=title, author=COMPANY, invariant=1, **{**options, **kwargs})


def avenant_pdf() -> tuple[bytes, Decimal, Decimal]:
    """The amendment n° 1 of the school's contract, only in the mail's attachment: bytes, its amount, the new total."""
    from reportlab.lib.units import mm  # noqa: PLC0415
    from reportlab.platypus import Paragraph, Spacer  # noqa: PLC0415

    works = [
        ("Agrandissement du préau (+38 m²)", "28940.00"),
        ("Reprise du réseau d'eaux pluviales de la cour (64 ml)", "11356.30"),
        ("Local de rangement extérieur", "7319.50"),
    ]
    amount = sum(Decimal(v) for _, v in works)
    new_total = SCHOOL_INITIAL + amount
    s = _styles()
    story = [
        Paragraph(f"AVENANT N° 1 AU MARCHÉ N° {SCHOOL_CONTRACT}", s["title"]),
        Paragraph(f"Maître d'ouvrage : {CLIENT_SCHOOL}, représentée par Mme Hélène Bonnafous, maire.", s["body"]),
        Paragraph(f"Titulaire : {COMPANY}, lot 2 Gros œuvre (affaire {SCHOOL}).", s["body"]),
        Paragraph(f"Objet du marché : {SCHOOL_NAME[0].lower()}{SCHOOL_NAME[1:]} (4 classes et un préau).", s["body"]),
        Paragraph("Article 1 — Objet de l'avenant", s["h2"]),
        Paragraph(
            "Le présent avenant intègre au marché les travaux modificatifs demandés par le maître d'ouvrage lors de "
            "la réunion de chantier du 07/10/2025 :",
            s["body"],
        ),
        _ruled_table(
            [["Désignation", "Montant HT (€)"]]
            + [[label, money(Decimal(value))] for label, value in works]
            + [["Total de l'avenant n° 1", money(amount)]],
            [120 * mm, 40 * mm],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Article 2 — Incidence financière", s["h2"]),
        Paragraph(f"Montant initial du marché : {money(SCHOOL_INITIAL)} € HT.", s["body"]),
        Paragraph(f"Montant de l'avenant n° 1 : {money(amount)} € HT.", s["body"]),
        Paragraph(
            f"Nouveau montant du marché : {money(new_total)} € HT, soit une augmentation de "
            f"{percent(amount / SCHOOL_INITIAL, 2)} du montant initial.",
            s["body"],
        ),
        Paragraph("Article 3 — Délai", s["h2"]),
        Paragraph(
            "Le délai d'exécution est prolongé de 3 semaines : l'achèvement des travaux est reporté au 20/03/2026.",
            s["body"],
        ),
        Paragraph("Article 4 — Autres clauses", s["h2"]),
        Paragraph(
            "Toutes les clauses du marché initial non modifiées par le présent avenant demeurent applicables.",
            s["body"],
        ),
        Spacer(1, 10 * mm),
        Paragraph(
            f"Fait à Vézelin, le ____________ — Pour le titulaire : {PRESIDENT}, président. "
            "Pour le maître d'ouvrage : Hélène Bonnafous, maire.",
            s["body"],
        ),
    ]
    buffer = io.BytesIO()
    _document(buffer, f"Avenant n° 1 — marché {SCHOOL_CONTRACT}").build(story)
    return buffer.getvalue(), amount, new_total


POURS: list[tuple[str, date]] = [  # élément, date de coulage (3 éprouvettes par prélèvement: 7 j, 28 j, 28 j)
    ("Semelles filantes S1 à S6", date(2025, 6, 2)),
    ("Semelles isolées SI1 à SI8", date(2025, 6, 5)),
    ("Longrines L1 à L4", date(2025, 6, 12)),
    ("Dallage zone A", date(2025, 6, 26)),
    ("Dallage zone B", date(2025, 7, 3)),
    ("Voiles RDC V1 à V4", date(2025, 7, 10)),
    ("Voiles RDC V5 à V9", date(2025, 7, 17)),
    ("Poteaux RDC P1 à P12", date(2025, 7, 22)),
    ("Poutres RDC file A", date(2025, 7, 24)),
    ("Dallage zone C", date(2025, 8, 25)),
    ("Poutres RDC file B", date(2025, 8, 28)),
    ("Plancher haut RDC zone 1", date(2025, 9, 2)),
    ("Plancher haut RDC zone 2", date(2025, 9, 4)),
    ("Voiles R+1 V10 à V14", date(2025, 9, 9)),
    ("Poteaux R+1 P13 à P20", date(2025, 9, 11)),
    ("Escalier E1", date(2025, 9, 16)),
    ("Voiles R+1 V15 à V18", date(2025, 9, 18)),
    ("Poutres R+1 file A", date(2025, 9, 22)),
    ("Acrotères zone 1", date(2025, 9, 24)),
    ("Acrotères zone 2", date(2025, 9, 26)),
]
FAILED_SPECIMEN = ("E-17", Decimal("21.8"))
REPORT = "RE-25-062"
REPORT_PAGES = 4


def specimens(rng: random.Random) -> list[tuple[str, str, date, int, int, Decimal]]:
    """(éprouvette, élément, date de coulage, âge en jours, masse volumique kg/m³, résistance MPa)."""
    rows = []
    for index in range(3 * len(POURS)):
        element, cast = POURS[index // 3]
        age = 7 if index % 3 == 0 else 28
        low, high = (19.0, 25.5) if age == 7 else (29.5, 38.5)
        strength = Decimal(str(round(rng.uniform(low, high), 1)))
        density = rng.randrange(2330, 2421)
        code = f"E-{index + 1:02d}"
        if code == FAILED_SPECIMEN[0]:
            strength = FAILED_SPECIMEN[1]
        rows.append((code, element, cast, age, density, strength))
    return rows


def write_test_report(out: Path, rng: random.Random) -> list[dict[str, Any]]:
    from reportlab.lib.units import mm  # noqa: PLC0415
    from reportlab.platypus import PageBreak, Paragraph, Spacer  # noqa: PLC0415

    name = "rapport_essais_beton.pdf"
    rows = specimens(rng)
    s = _styles()
    regular, _ = _fonts()

    def frame(canvas: Any, document: Any) -> None:
        width, height = document.pagesize
        canvas.saveState()
        canvas.setFont(regular, 8.5)
        canvas.drawString(20 * mm, height - 12 * mm, f"{COMPANY} — Rapport d'essais {REPORT}")
        canvas.drawRightString(width - 20 * mm, height - 12 * mm, f"Affaire {SCHOOL} — Groupe scolaire de Vézelin")
        canvas.line(20 * mm, height - 14 * mm, width - 20 * mm, height - 14 * mm)
        canvas.drawCentredString(width / 2, 10 * mm, f"Page {document.page} / {REPORT_PAGES}")
        canvas.restoreState()

    at_28 = [r for r in rows if r[3] == 28]
    conform = [r for r in at_28 if r[5] >= 25]
    mean = sum(r[5] for r in at_28) / len(at_28)
    failed = next(r for r in rows if r[0] == FAILED_SPECIMEN[0])
    table = [["Éprouvette", "Élément", "Coulage", "Âge (j)", "Masse vol. (kg/m³)", "Résistance (MPa)", "Avis"]]
    for code, element, cast, age, density, strength in rows:
        verdict = "Indicatif" if age == 7 else "Conforme" if strength >= 25 else "Non conforme"
        table.append([code, element, fr_date(cast), str(age), money(density, 0), money(strength, 1), verdict])
    story = [
        Paragraph(f"Rapport d'essais {REPORT} — Résistance à la compression des bétons", s["title"]),
        Paragraph(
            f"Affaire {SCHOOL} : {SCHOOL_NAME[0].lower()}{SCHOOL_NAME[1:]}. Béton C25/30 XC2 fourni par la centrale "
            "Bétons du Sarrat. Éprouvettes cylindriques 16 x 32 cm confectionnées sur chantier, conservées dans l'eau "
            "à 20 °C et écrasées par le Laboratoire des Monts d'Alagne selon la norme NF EN 12390-3.",
            s["body"],
        ),
        Paragraph(
            "Critère : chaque résultat à 28 jours doit atteindre au moins 25 MPa. Les résultats à 7 jours sont "
            "indicatifs.",
            s["body"],
        ),
        Paragraph("1. Résultats par éprouvette", s["h2"]),
        _ruled_table(table, [23 * mm, 45 * mm, 22 * mm, 11 * mm, 21 * mm, 23 * mm, 25 * mm]),
        PageBreak(),
        Paragraph("2. Synthèse", s["h2"]),
        _ruled_table(
            [
                ["Indicateur", "Valeur"],
                ["Éprouvettes écrasées", f"{len(rows)} ({len(rows) - len(at_28)} à 7 jours, {len(at_28)} à 28 jours)"],
                ["Résistance moyenne à 28 jours", f"{money(mean, 1)} MPa"],
                ["Résultats à 28 jours conformes", f"{len(conform)} sur {len(at_28)}"],
                ["Valeur minimale à 28 jours", f"{money(failed[5], 1)} MPa ({failed[0]})"],
            ],
            [70 * mm, 70 * mm],
        ),
        PageBreak(),
        Paragraph("3. Conclusions", s["h2"]),
        Paragraph(
            f"L'éprouvette {failed[0]}, prélevée sur les {failed[1].lower()} (coulage du {fr_date(failed[2])}), "
            f"présente une résistance de {money(failed[5], 1)} MPa à 28 jours, inférieure au critère de 25 MPa : "
            "elle est non conforme. Les autres éprouvettes du même prélèvement sont conformes.",
            s["body"],
        ),
        Paragraph(
            "Un carottage de contrôle du voile V3 (trois carottes de diamètre 100 mm) est demandé avant le "
            "chargement du plancher haut. Dans l'attente, l'étaiement du plancher haut au droit du voile V3 est "
            "maintenu.",
            s["body"],
        ),
        Paragraph(
            "Toutes les autres parties d'ouvrage essayées satisfont au critère de résistance à 28 jours.", s["body"]
        ),
        Spacer(1, 8 * mm),
        Paragraph("Rapport établi le 24/10/2025 par Élodie Cayrol, responsable qualité.", s["body"]),
    ]
    _document(str(out / name), f"Rapport d'essais {REPORT}", topMargin=24 * mm).build(
        story, onFirstPage=frame, onLaterPages=frame
    )
    _check_pages(out / name, REPORT_PAGES)
    by_code = {r[0]: r for r in rows}
    e23, e41, e08 = by_code["E-23"], by_code["E-41"], by_code["E-08"]
    return [
        question(
            f"Quelle résistance à la compression l'éprouvette E-23 a-t-elle atteinte dans le rapport {REPORT} ?",
            name,
            f"{money(e23[5], 1)} MPa à {e23[3]} jours ({e23[1]}, coulage du {fr_date(e23[2])})",
            "question_chiffree",
            "pdf-table",
            [money(e23[5], 1)],
        ),
        question(
            "Quelle est la masse volumique de l'éprouvette E-41 du rapport d'essais béton du groupe scolaire de "
            "Vézelin ?",
            name,
            f"{money(e41[4], 0)} kg/m³",
            "question_chiffree",
            "pdf-table",
            [money(e41[4], 0)],
        ),
        question(
            f"Sur quel élément l'éprouvette E-08 du rapport {REPORT} a-t-elle été prélevée, et quand a-t-il été "
            "coulé ?",
            name,
            f"{e08[1]}, coulage du {fr_date(e08[2])}",
            "autre",
            "pdf-table",
            [e08[1].split()[0], fr_date(e08[2])],
        ),
        question(
            f"Quelle éprouvette du rapport d'essais {REPORT} est non conforme, et quelle résistance a-t-elle ?",
            name,
            f"{failed[0]} ({failed[1]}) : {money(failed[5], 1)} MPa à 28 jours, sous le critère de 25 MPa",
            "autre",
            "pdf-table",
            [failed[0], money(failed[5], 1)],
        ),
        question(
            f"Quelle résistance l'éprouvette E-64 du rapport {REPORT} a-t-elle atteinte ?",
            None,
            "",
            "question_chiffree",
            "pdf-table",
            [],
            note="only E-01 to E-60 exist",
        ),
    ]


def _check_pages(path: Path, expected: int) -> None:
    from pypdf import PdfReader  # noqa: PLC0415

    pages = len(PdfReader(path).pages)
    if pages != expected:
        raise RuntimeError(f"{path.name}: {pages} pages, expected {expected} (its footers say '/ {expected}')")


NOTE_PARAGRAPHS = [
    (
        "1. Objet",
        "La présente note fixe les règles de bétonnage par temps froid applicables sur tous les chantiers "
        "de l'entreprise. Elle complète la procédure de bétonnage et s'impose aux chefs de chantier comme aux "
        "sous-traitants de gros œuvre.",
    ),
    (
        "2. Définition",
        "On parle de temps froid lorsque la température ambiante est inférieure à +5 °C au moment du "
        "coulage ou qu'elle est prévue sous ce seuil dans les 48 heures qui suivent. La température est relevée à "
        "7 h 00 sur le thermomètre de la base vie et consignée dans le journal de chantier.",
    ),
    (
        "3. Commande du béton",
        "Le béton est commandé avec un ciment CEM I 52,5 R et un accélérateur de prise. La "
        "centrale est informée la veille : l'eau de gâchage est chauffée, sans dépasser 40 °C, et la température du "
        "béton à la livraison doit être d'au moins 10 °C. Toute toupie livrée en dessous de cette valeur est refusée.",
    ),
    (
        "4. Préparation",
        "Les coffrages, les armatures et les surfaces de reprise sont débarrassés de la neige et du "
        "givre. Il est interdit de couler sur un support gelé. Les bâches et les panneaux isolants sont approvisionnés "
        "avant le début du coulage.",
    ),
    (
        "5. Protection",
        "Le béton frais est protégé par des bâches isolantes pendant au moins 72 heures après le "
        "coulage. Les dalles sont couvertes dès la fin du talochage ; les voiles restent coffrés pendant toute la "
        "durée de la protection.",
    ),
    (
        "6. Décoffrage",
        "Le décoffrage des voiles n'est autorisé que lorsque la résistance du béton en place atteint "
        "5 MPa. Elle est vérifiée par maturométrie : deux capteurs au moins sont noyés dans chaque levée de voile et "
        "relevés chaque matin par le chef de chantier.",
    ),
    (
        "7. Gel sévère",
        "En dessous de -5 °C, tout bétonnage est interdit, sauf dérogation écrite du directeur "
        "technique, Lucien Mazars, qui fixe alors les mesures complémentaires (abri chauffé, cure prolongée).",
    ),
    (
        "8. Enregistrements",
        "Chaque coulage par temps froid donne lieu à une fiche de suivi : températures de l'air "
        "et du béton, heure de pose des protections, relevés des capteurs et date de décoffrage. La fiche est "
        "jointe au dossier qualité de l'affaire.",
    ),
    (
        "9. Contrôle",
        "Le conducteur de travaux vérifie l'application de la présente note lors de chaque visite de "
        "chantier. Tout écart est signalé au service qualité dans la journée.",
    ),
]


def write_two_column_note(out: Path) -> list[dict[str, Any]]:
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.lib.units import mm  # noqa: PLC0415
    from reportlab.platypus import (  # noqa: PLC0415
        BaseDocTemplate,
        Frame,
        FrameBreak,
        NextPageTemplate,
        PageTemplate,
        Paragraph,
    )

    name = "note_technique_2col.pdf"
    s = _styles()
    width, height = A4
    margin, gutter, title_height = 20 * mm, 10 * mm, 30 * mm
    column = (width - 2 * margin - gutter) / 2

    def columns(top: float) -> list[Any]:
        return [
            Frame(margin + i * (column + gutter), margin, column, top - margin, id=f"c{i}", showBoundary=0)
            for i in range(2)
        ]

    first = PageTemplate(
        "first",
        [
            Frame(margin, height - margin - title_height, width - 2 * margin, title_height, id="title"),
            *columns(height - margin - title_height),
        ],
    )
    later = PageTemplate("later", columns(height - margin))
    document = BaseDocTemplate(
        str(out / name),
        pagesize=A4,
        pageTemplates=[first, later],
        title="Note technique NT-25-09",
        author=COMPANY,
        invariant=1,
    )
    story: list[Any] = [
        Paragraph("Note technique NT-25-09 — Bétonnage par temps froid", s["title"]),
        Paragraph(
            f"{COMPANY}, direction technique — diffusion : conducteurs de travaux et chefs de chantier — "
            "version du 06/10/2025",
            s["body"],
        ),
        NextPageTemplate("later"),
        FrameBreak(),
    ]
    for heading, text in NOTE_PARAGRAPHS:
        story += [Paragraph(heading, s["h2"]), Paragraph(text, s["body"])]
    document.build(story)
    return [
        question(
            "Selon la note technique NT-25-09, pendant combien de temps le béton frais doit-il être protégé par "
            "temps froid ?",
            name,
            "Au moins 72 heures après le coulage, par des bâches isolantes",
            "autre",
            "pdf-2col",
            ["72 heures"],
        ),
        question(
            "Quelle résistance le béton en place doit-il atteindre avant le décoffrage des voiles par temps froid ?",
            name,
            "5 MPa, vérifiés par maturométrie (au moins deux capteurs par levée de voile)",
            "question_chiffree",
            "pdf-2col",
            ["5 MPa"],
        ),
    ]


def write_mixed_contract(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.lib.units import mm  # noqa: PLC0415
    from reportlab.lib.utils import ImageReader  # noqa: PLC0415
    from reportlab.platypus import (  # noqa: PLC0415
        BaseDocTemplate,
        Frame,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
    )

    name = "marche_signe_mixte.pdf"
    total = Decimal("3417962.40")
    vat = cents(total * Decimal("0.10"))
    scan_text = rendered_text(
        f"ACTE D'ENGAGEMENT — Marché n° {GENETS_CONTRACT} — page 3 / 3\n\n"
        "Article 5 — Montant du marché\n\n"
        "Le montant du marché est arrêté comme suit :\n\n"
        f"Montant HT : {money(total)} €\n\n"
        f"TVA à 10 % : {money(vat)} €\n\n"
        f"Montant TTC : {money(total + vat)} €\n\n"
        "Article 6 — Signatures\n\n"
        f"Pour l'entreprise {COMPANY} : {PRESIDENT}, président, à {HOME_TOWN}, le 31/03/2025.\n\n"
        f"Pour le maître d'ouvrage {CLIENT_GENETS} : Jean-Marc Sabatier, directeur général, à Lascombe, "
        "le 07/04/2025.\n\n"
        "Lu et approuvé. Signatures et cachets."
    )
    image = render_scan(scan_text, rotation_deg=0.8, noise=0.015, seed=SEED + 5)
    s = _styles()
    width, height = A4

    def scanned(canvas: Any, document: Any) -> None:
        canvas.drawImage(ImageReader(image), 0, 0, width=width, height=height)

    frame = Frame(20 * mm, 20 * mm, width - 40 * mm, height - 42 * mm, id="text")
    document = BaseDocTemplate(
        str(out / name),
        pagesize=A4,
        title=f"Marché {GENETS_CONTRACT}",
        author=COMPANY,
        invariant=1,
        pageTemplates=[PageTemplate("text", [frame]), PageTemplate("scan", [frame], onPage=scanned)],
    )
    story = [
        Paragraph(f"ACTE D'ENGAGEMENT — Marché n° {GENETS_CONTRACT}", s["title"]),
        Paragraph("Article 1 — Contractants", s["h2"]),
        Paragraph(
            f"Le maître d'ouvrage : {CLIENT_GENETS}, office public de l'habitat, 3 place du Foirail, Lascombe, "
            "représenté par son directeur général.",
            s["body"],
        ),
        Paragraph(
            f"Le titulaire : {COMPANY}, société par actions simplifiée, siège à {HOME_TOWN}, représentée par "
            f"{PRESIDENT}, président, qui s'engage à exécuter les travaux dans les conditions ci-après.",
            s["body"],
        ),
        Paragraph("Article 2 — Objet", s["h2"]),
        Paragraph(
            f"Le marché a pour objet la {GENETS_NAME[0].lower()}{GENETS_NAME[1:]} (affaire {GENETS}) : isolation "
            "thermique par l'extérieur, remplacement des menuiseries extérieures, réfection des salles d'eau, "
            "mise en conformité électrique et remplacement des chaudières individuelles par une chaufferie "
            "collective au bois.",
            s["body"],
        ),
        Paragraph(
            "Les travaux sont exécutés en site occupé, bâtiment par bâtiment (A, B puis C), les locataires du "
            "bâtiment en cours de travaux étant relogés temporairement par le maître d'ouvrage.",
            s["body"],
        ),
        PageBreak(),
        Paragraph("Article 3 — Délai d'exécution", s["h2"]),
        Paragraph(
            "Le délai d'exécution est de 10 mois à compter de la date fixée par l'ordre de service n° 1, période de "
            "préparation de 4 semaines comprise.",
            s["body"],
        ),
        Paragraph("Article 4 — Conditions financières", s["h2"]),
        Paragraph(
            "Pénalités de retard : 1/3000 du montant du marché par jour calendaire de retard. Une avance forfaitaire "
            "de 5 % est versée au titulaire. Une retenue de garantie de 5 % est prélevée sur chaque acompte ; elle "
            "peut être remplacée par une garantie à première demande.",
            s["body"],
        ),
        Paragraph(
            "Les acomptes sont réglés mensuellement, sur situation de travaux visée par le maître d'œuvre, dans un "
            "délai global de paiement de 30 jours.",
            s["body"],
        ),
        NextPageTemplate("scan"),
        PageBreak(),
        Spacer(1, 1),
    ]
    document.build(story)
    _check_pages(out / name, 3)
    scans = [{"file": name, "page": 3, "text": scan_text}]
    questions = [
        question(
            "Quel est le montant HT du marché de réhabilitation de la résidence Les Genêts ?",
            name,
            f"{money(total)} € HT, soit {money(total + vat)} € TTC (TVA à 10 %)",
            "question_chiffree",
            "pdf-mixed",
            [money(total)],
            page="3 (scanned)",
        ),
        question(
            f"À quelle date le maître d'ouvrage a-t-il signé le marché {GENETS_CONTRACT} ?",
            name,
            "Le 07/04/2025, à Lascombe, par Jean-Marc Sabatier, directeur général d'Habitat des Hautes-Combes",
            "autre",
            "pdf-mixed",
            ["07/04/2025"],
            page="3 (scanned)",
        ),
        question(
            f"Quel est le délai d'exécution du marché {GENETS_CONTRACT} de la résidence Les Genêts ?",
            name,
            "10 mois à compter de l'ordre de service n° 1, dont 4 semaines de préparation",
            "autre",
            "pdf-mixed",
            ["10 mois"],
            page="2 (text)",
        ),
    ]
    return questions, scans


# ------------------------------------------------------------------------------------------ e-mails
def _mail(  # noqa: PLR0917
    sender: str, to: str, subject: str, when: datetime, number: int, cc: str | None = None
) -> EmailMessage:
    from email.utils import format_datetime  # noqa: PLC0415

    message = EmailMessage(policy=policy.default)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<{when:%Y%m%d%H%M%S}.{number}@{MAIL_DOMAIN}>"
    return message


def _freeze_boundaries(message: EmailMessage, prefix: str) -> None:
    """Fixed multipart boundaries (the library draws random ones): the same bytes at every run."""
    parts = [part for part in message.walk() if part.get_content_maintype() == "multipart"]
    for number, part in enumerate(parts):
        part.set_boundary(f"----=_Part_{prefix}_{number}")
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            for inner in part.get_payload():
                _freeze_boundaries(inner, f"{prefix}_inner")


def _save_mail(message: EmailMessage, path: Path) -> None:
    _freeze_boundaries(message, path.stem.replace("-", "_"))
    path.write_bytes(message.as_bytes(policy=policy.SMTP))


def _address(name: str, login: str, domain: str = MAIL_DOMAIN) -> str:
    return f"{name} <{login}@{domain}>"


def write_mail_avenant(out: Path) -> list[dict[str, Any]]:
    name = f"mail_avenant_{SCHOOL}.eml"
    attachment = f"avenant_n1_{SCHOOL}.pdf"
    pdf, amount, new_total = avenant_pdf()
    message = _mail(
        _address("Sandrine Malzieu", "s.malzieu"),
        _address("Laurent Cabanes", "dgs", "mairie-vezelin.fr"),
        f"{SCHOOL} — Projet d'avenant n° 1 — extension du groupe scolaire",
        datetime(2025, 10, 14, 16, 42, tzinfo=PARIS),
        1,
        cc=_address("Atelier Brousse & Lhermet", "contact", "brousse-lhermet.fr"),
    )
    message.set_content(
        "Monsieur le Directeur,\n\n"
        "Suite à la réunion de chantier du 07/10/2025, vous trouverez ci-joint le projet d'avenant n° 1 au marché "
        f"n° {SCHOOL_CONTRACT}, qui porte sur les travaux modificatifs demandés par la commune : agrandissement du "
        "préau, reprise du réseau d'eaux pluviales de la cour et création d'un local de rangement extérieur.\n\n"
        "Le montant de l'avenant et son incidence sur le délai sont détaillés dans le document joint.\n\n"
        "Nous vous remercions de nous retourner l'avenant signé avant le 24/10/2025, afin de ne pas retarder la "
        "commande de la charpente du préau.\n\n"
        "Bien cordialement,\n\n"
        f"Sandrine Malzieu\nConductrice de travaux — {COMPANY}\n06 71 42 18 90\n",
        cte="quoted-printable",
    )
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=attachment)
    _save_mail(message, out / name)
    return [
        question(
            f"Quel est le montant de l'avenant n° 1 de l'affaire {SCHOOL} ?",
            attachment,
            f"{money(amount)} € HT ; le marché passe de {money(SCHOOL_INITIAL)} à {money(new_total)} € HT",
            "question_chiffree",
            "eml",
            [money(amount)],
            attachment_of=name,
        ),
        question(
            "Quel est le nouveau montant du marché du groupe scolaire de Vézelin après l'avenant n° 1, et quelle "
            "est la nouvelle date d'achèvement ?",
            attachment,
            f"{money(new_total)} € HT (+{percent(amount / SCHOOL_INITIAL, 2)}) ; achèvement reporté au 20/03/2026",
            "question_chiffree",
            "eml",
            [money(new_total), "20/03/2026"],
            attachment_of=name,
        ),
        question(
            "Avant quelle date Constructions Hautes-Terres demande-t-elle le retour de l'avenant n° 1 signé par la "
            "commune de Vézelin ?",
            name,
            "Avant le 24/10/2025, pour ne pas retarder la commande de la charpente du préau",
            "autre",
            "eml",
            ["24/10/2025"],
        ),
        question(
            f"Quel est le montant de l'avenant n° 2 de l'affaire {SCHOOL} ?",
            None,
            "",
            "question_chiffree",
            "eml",
            [],
            note="only an amendment n° 1 exists",
        ),
    ]


MEETING_HTML = """<!DOCTYPE html>
<html><head><meta charset="windows-1252"><title>Relevé de décisions</title></head>
<body style="font-family: Calibri, sans-serif; font-size: 11pt">
<p>Bonjour à tous,</p>
<p>Voici le relevé des décisions prises lors de la réunion de pilotage du mardi 14/10/2025 sur l'opération
<b>Les Genêts</b> (marché HHC-2025-014) :</p>
<ul>
<li><b>Réception des travaux</b> : initialement prévue le 28/11/2025, elle est <b>reportée au 16/01/2026</b>,
en raison du retard de livraison des menuiseries extérieures du bâtiment C (fournisseur Menuiseries Castel).</li>
<li><b>Relogement</b> : les locataires du bâtiment C restent relogés jusqu'au 31/01/2026 ; l'office prend en charge
la prolongation.</li>
<li><b>Chaufferie bois</b> : la mise en service est maintenue au 01/12/2025.</li>
</ul>
<table border="1" cellpadding="4" style="border-collapse: collapse">
<tr><th>Action</th><th>Responsable</th><th>Échéance</th></tr>
<tr><td>Planning recalé des bâtiments B et C</td><td>J. Roqueplane (CHT)</td><td>21/10/2025</td></tr>
<tr><td>Courrier aux locataires du bâtiment C</td><td>A. Delteil</td><td>24/10/2025</td></tr>
</table>
<p>Prochaine réunion de pilotage : mardi 04/11/2025 à 14 h 00, en mairie de Lascombe.</p>
<p>Cordialement,<br>Agnès Delteil<br>Responsable de programmes — Habitat des Hautes-Combes</p>
</body></html>
"""


def write_mail_meeting(out: Path) -> list[dict[str, Any]]:
    name = "mail_reunion.eml"
    message = _mail(
        _address("Agnès Delteil", "a.delteil", "habitat-hautes-combes.fr"),
        _address("Julien Roqueplane", "j.roqueplane"),
        "Résidence Les Genêts — relevé de décisions de la réunion de pilotage du 14/10/2025",
        datetime(2025, 10, 15, 9, 12, tzinfo=PARIS),
        2,
        cc=_address("Jean-Marc Sabatier", "dg", "habitat-hautes-combes.fr"),
    )
    message.set_content(MEETING_HTML, subtype="html", charset="windows-1252", cte="quoted-printable")
    _save_mail(message, out / name)
    return [
        question(
            "À quelle date la réception des travaux de la résidence Les Genêts a-t-elle été reportée ?",
            name,
            "Au 16/01/2026 (au lieu du 28/11/2025), à cause du retard de livraison des menuiseries extérieures du "
            "bâtiment C",
            "autre",
            "eml",
            ["16/01/2026"],
        ),
        question(
            "Pourquoi la réception de la résidence Les Genêts a-t-elle été décalée ?",
            name,
            "Le retard de livraison des menuiseries extérieures du bâtiment C (fournisseur Menuiseries Castel)",
            "autre",
            "eml",
            ["menuiseries"],
        ),
    ]


def write_mail_forward(out: Path) -> list[dict[str, Any]]:
    name = "mail_fw_devis.eml"
    inner_name = f"envoi_devis_{QUOTE}.eml"
    attachment = f"devis_{QUOTE}.xlsx"
    workbook, total, total_ttc = quote_workbook()
    inner = _mail(
        _address("Thomas Rigal", "t.rigal"),
        _address("Olivier Pagès", "o.pages", "clinique-sainte-aurele.fr"),
        f"Devis {QUOTE} — rampe d'accès PMR et parvis",
        datetime(2025, 9, 19, 11, 5, tzinfo=PARIS),
        3,
    )
    inner.set_content(
        "Monsieur Pagès,\n\n"
        f"Suite à notre visite du 16/09/2025, veuillez trouver ci-joint notre devis {QUOTE} pour la création "
        "d'une rampe d'accès PMR et la réfection du parvis de la clinique. Il est valable 3 mois.\n\n"
        "Les travaux peuvent être réalisés en 4 semaines, hors congés de fin d'année.\n\n"
        f"Cordialement,\nThomas Rigal\nChargé d'affaires — {COMPANY}\n",
        cte="quoted-printable",
    )
    inner.add_attachment(
        workbook,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=attachment,
    )
    message = _mail(
        _address("Thomas Rigal", "t.rigal"),
        _address("Claire Astruc", "c.astruc"),
        f"TR: Devis {QUOTE} — rampe d'accès PMR et parvis",
        datetime(2025, 9, 26, 8, 31, tzinfo=PARIS),
        4,
    )
    message.set_content(
        "Claire,\n\n"
        "Je te transfère le devis envoyé à la clinique Sainte-Aurèle. Le client souhaite une variante du parvis en "
        "pavés de granit à la place du béton désactivé : peux-tu la chiffrer et reprendre les quantités avant notre "
        "visite du 02/10/2025 ?\n\n"
        "Merci,\nThomas\n",
        cte="quoted-printable",
    )
    _freeze_boundaries(inner, "inner")
    message.add_attachment(inner, filename=inner_name)
    _save_mail(message, out / name)
    guard_rail = next(item for item in QUOTE_ITEMS if item[0] == "B3")
    return [
        question(
            f"Quel est le montant TTC du devis {QUOTE} ?",
            attachment,
            f"{money(total_ttc)} € TTC ({money(total)} € HT)",
            "question_chiffree",
            "eml",
            [money(total_ttc)],
            attachment_of=f"{name}/{inner_name}",
        ),
        question(
            f"Quel prix unitaire HT le devis {QUOTE} retient-il pour le garde-corps en acier galvanisé ?",
            attachment,
            f"{money(Decimal(guard_rail[4]))} € HT le mètre linéaire ({guard_rail[3]} ml)",
            "question_chiffree",
            "eml",
            [money(Decimal(guard_rail[4]))],
            attachment_of=f"{name}/{inner_name}",
        ),
        question(
            "Quelle variante du parvis la clinique Sainte-Aurèle souhaite-t-elle faire chiffrer ?",
            name,
            "Un parvis en pavés de granit à la place du béton désactivé, à chiffrer avant la visite du 02/10/2025",
            "autre",
            "eml",
            ["granit"],
        ),
        question(
            "Quel est le montant TTC du devis DV-0925-115 ?",
            None,
            "",
            "question_chiffree",
            "eml",
            [],
            note=f"only {QUOTE} exists",
        ),
    ]


# ------------------------------------------------------------------------------------------ slides (python-pptx)
def write_slides(out: Path) -> list[dict[str, Any]]:
    from pptx import Presentation  # noqa: PLC0415
    from pptx.util import Cm, Pt  # noqa: PLC0415

    name = f"presentation_lancement_{RESERVOIR}.pptx"
    deck = Presentation()
    deck.core_properties.author = COMPANY
    deck.core_properties.title = f"Réunion de lancement {RESERVOIR}"
    deck.core_properties.created = deck.core_properties.modified = FROZEN
    deck.core_properties.last_modified_by = COMPANY
    deck.core_properties.revision = 1

    cover = deck.slides.add_slide(deck.slide_layouts[0])
    cover.shapes.title.text = f"Réunion de lancement — {RESERVOIR_NAME}"
    cover.placeholders[1].text = f"Affaire {RESERVOIR} — {CLIENT_RESERVOIR} — 23/09/2025"

    people = deck.slides.add_slide(deck.slide_layouts[5])
    people.shapes.title.text = "Intervenants"
    rows = [
        ["Rôle", "Organisme", "Interlocuteur"],
        ["Maître d'ouvrage", CLIENT_RESERVOIR, "Pierre Souchon, président"],
        ["Maître d'œuvre", ENGINEER_RESERVOIR, "Nadia Ferrières"],
        ["Coordonnateur SPS", "Prévention Sud-Massif", "Hugo Lestrade"],
        ["Contrôleur technique", "Contrôle Technique des Causses", "Yves Ramadier"],
        ["Entreprise, lot 1 Génie civil", COMPANY, "Mathieu Esclangon, conducteur de travaux"],
    ]
    shape = people.shapes.add_table(len(rows), 3, Cm(1.5), Cm(4), Cm(22), Cm(8))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = shape.table.cell(r, c)
            cell.text = text
            cell.text_frame.paragraphs[0].runs[0].font.size = Pt(14)

    def bullets(title: str, lines: list[str], notes: str | None = None) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        frame.text = lines[0]
        for line in lines[1:]:
            frame.add_paragraph().text = line
        if notes:
            slide.notes_slide.notes_text_frame.text = notes

    bullets(
        "Planning prévisionnel",
        [
            "Préparation de chantier : du 29/09/2025 au 24/10/2025",
            "Terrassements en rocher : à partir du 27/10/2025",
            "Coulage du radier : 24/11/2025 (semaine 48)",
            "Voiles et poteaux : décembre 2025 à février 2026",
            "Mise en eau et essais d'étanchéité : avril 2026",
            "Livraison au SEHS : 29/05/2026",
        ],
    )
    bullets(
        "Organisation du chantier",
        [
            "Accès des engins par le chemin des Crêtes, interdit au public",
            "Base vie de 4 bungalows sur la plateforme nord",
            "Grue à tour de 40 m de flèche, montée en semaine 46",
            "Horaires : 7 h 30 – 17 h 00, du lundi au vendredi",
        ],
        notes="Prévoir un panneau de chantier supplémentaire au carrefour de la RD 41.",
    )
    bullets(
        "Points de vigilance",
        [
            "Conduite d'adduction existante dans l'emprise du radier",
            "Venues d'eau possibles en fond de fouille",
            "Bétonnage par temps froid à partir de novembre",
        ],
        notes=(
            "Le dévoiement de la conduite d'adduction DN 250 doit être réalisé par le SEHS avant le 14/11/2025, "
            "faute de quoi le coulage du radier sera décalé."
        ),
    )
    bullets(
        "Prochaines étapes",
        [
            "Visa des plans d'exécution par le maître d'œuvre : 10/10/2025",
            "Déclaration d'ouverture de chantier : 13/10/2025",
            "Première réunion de chantier : 02/10/2025, puis tous les jeudis à 10 h",
        ],
    )
    deck.save(out / name)
    freeze_zip(out / name)
    return [
        question(
            "Quel est le maître d'œuvre du réservoir de Puy-Sarrat ?",
            name,
            f"{ENGINEER_RESERVOIR} (interlocutrice : Nadia Ferrières)",
            "fiche_identite",
            "pptx",
            [ENGINEER_RESERVOIR],
        ),
        question(
            "Quand le coulage du radier du réservoir de Puy-Sarrat est-il prévu ?",
            name,
            "Le 24/11/2025 (semaine 48)",
            "autre",
            "pptx",
            ["24/11/2025"],
        ),
        question(
            "Avant quelle date le SEHS doit-il dévoyer la conduite d'adduction DN 250 sur le chantier du réservoir ?",
            name,
            "Avant le 14/11/2025, faute de quoi le coulage du radier sera décalé",
            "autre",
            "pptx",
            ["14/11/2025"],
            where="speaker notes",
        ),
    ]


# ------------------------------------------------------------------------------------------ scans
DELIVERY_TITLE = "Bétons du Sarrat — Bon de livraison BL 25-08817"
DELIVERY_ROWS = [
    ["Rubrique", "Détail"],
    ["Date", "17/10/2025"],
    ["Client", COMPANY],
    ["Chantier", f"{RESERVOIR} Réservoir de Puy-Sarrat"],
    ["Produit", "Béton C30/37 XF3 S4 Dmax 20"],
    ["Quantité livrée", "8,5 m³"],
    ["Camion", "Toupie n° 14"],
    ["Départ centrale", "07:42"],
    ["Arrivée chantier", "08:15"],
    ["Eau ajoutée sur chantier", "0 litre"],
    ["Réceptionné par", "R. Fabrègue"],
]
# Scanned pages: the first line is the title; paragraphs are separated by blank lines (lines inside one are joined).
RECEPTION_TEXT = f"""PROCÈS-VERBAL DE RÉCEPTION DES TRAVAUX

Affaire {BRIDGE} — Réfection du pont de la Sagne, commune de Vézelin

Maître d'ouvrage : {CLIENT_CC}

Entreprise : {COMPANY}

Après la visite contradictoire des ouvrages du 02/09/2025, le maître d'ouvrage décide de prononcer la réception
avec réserves, avec effet au 02/09/2025.

Réserves :

1. Reprise du joint de chaussée côté culée C0.

2. Nettoyage des barbacanes du mur en aile aval.

Délai de levée des réserves : 45 jours. La garantie de parfait achèvement court à compter de la date d'effet.

Fait à {HOME_TOWN}, le 03/09/2025."""
CERTIFICATE_PAGES = [
    f"""ATTESTATION DE BONNE EXÉCUTION

Je soussigné, Président de la {CLIENT_CC}, atteste que l'entreprise {COMPANY} a réalisé pour notre compte les
travaux suivants :

Objet : construction de la halle des sports de Lascombe, lot gros œuvre.

Montant des travaux : 2 184 300,00 € HT.

Période d'exécution : de mars 2023 à juin 2024.

Les travaux ont été exécutés conformément aux règles de l'art et menés régulièrement à bonne fin.""",
    f"""ATTESTATION DE BONNE EXÉCUTION (suite)

Observations du maître d'ouvrage : les délais contractuels ont été respectés et aucune pénalité n'a été
appliquée. La réception a été prononcée sans réserve le 28/06/2024.

La présente attestation est délivrée à l'entreprise pour servir et valoir ce que de droit.

Fait à {HOME_TOWN}, le 12/03/2025.

Le Président, Gérard Castanier""",
]


def rendered_text(text: str) -> str:
    """The text as `render_scan` draws it: the title line, then each paragraph on one line, blank lines between."""
    title, _, body = text.strip().partition("\n")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body.strip())]
    return "\n\n".join([title.strip(), *paragraphs])


def write_scans(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    scans: list[dict[str, Any]] = []
    pdf_dates = {"creationDate": FROZEN.timetuple(), "modDate": FROZEN.timetuple()}

    delivery = render_table_scan(DELIVERY_ROWS, title=DELIVERY_TITLE, rotation_deg=-0.7, noise=0.02, seed=SEED + 1)
    delivery.save(out / "bon_livraison_scan.pdf", "PDF", resolution=200.0, **pdf_dates)
    table_text = "\n".join([DELIVERY_TITLE, *(" ".join(row) for row in DELIVERY_ROWS)])
    scans.append({"file": "bon_livraison_scan.pdf", "page": 1, "text": table_text})

    reception = render_scan(RECEPTION_TEXT, rotation_deg=1.2, noise=0.02, seed=SEED + 2)
    reception.save(out / "pv_reception_scan.png", dpi=(200, 200))
    scans.append({"file": "pv_reception_scan.png", "page": 1, "text": rendered_text(RECEPTION_TEXT)})

    pages = [
        render_scan(text, rotation_deg=rotation, noise=0.025, seed=SEED + 3 + i)
        for i, (text, rotation) in enumerate(zip(CERTIFICATE_PAGES, (-1.0, 0.6), strict=True))
    ]
    pages[0].save(
        out / "attestation_scan.tif", save_all=True, append_images=pages[1:], compression="tiff_lzw", dpi=(200, 200)
    )
    scans += [
        {"file": "attestation_scan.tif", "page": i, "text": rendered_text(text)}
        for i, text in enumerate(CERTIFICATE_PAGES, start=1)
    ]
    questions = [
        question(
            "Quelle quantité de béton a été livrée avec le bon de livraison BL 25-08817 ?",
            "bon_livraison_scan.pdf",
            "8,5 m³ de béton C30/37 XF3 S4 Dmax 20, le 17/10/2025 sur le chantier du réservoir de Puy-Sarrat",
            "question_chiffree",
            "scan-pdf",
            ["8,5 m³"],
        ),
        question(
            "Quel béton Bétons du Sarrat a-t-il livré le 17/10/2025 au réservoir de Puy-Sarrat, et à quelle heure "
            "la toupie est-elle arrivée ?",
            "bon_livraison_scan.pdf",
            "Du béton C30/37 XF3 S4 Dmax 20 (8,5 m³), arrivé sur le chantier à 08:15",
            "autre",
            "scan-pdf",
            ["C30/37 XF3", "08:15"],
        ),
        question(
            "Avec effet à quelle date la réception du pont de la Sagne a-t-elle été prononcée ?",
            "pv_reception_scan.png",
            "Le 02/09/2025, avec réserves (PV signé le 03/09/2025)",
            "autre",
            "png",
            ["02/09/2025"],
        ),
        question(
            "Quelles réserves ont été émises à la réception du pont de la Sagne ?",
            "pv_reception_scan.png",
            "Reprise du joint de chaussée côté culée C0 et nettoyage des barbacanes du mur en aile aval ; 45 jours "
            "pour les lever",
            "autre",
            "png",
            ["joint de chaussée", "barbacanes"],
        ),
        question(
            "Quel montant de travaux l'attestation de bonne exécution indique-t-elle pour la halle des sports de "
            "Lascombe ?",
            "attestation_scan.tif",
            "2 184 300,00 € HT (lot gros œuvre, de mars 2023 à juin 2024)",
            "question_chiffree",
            "tif",
            ["2 184 300,00"],
            page="1",
        ),
        question(
            "Qui a signé l'attestation de bonne exécution de la halle des sports de Lascombe, et à quelle date ?",
            "attestation_scan.tif",
            f"Gérard Castanier, président de la {CLIENT_CC}, le 12/03/2025",
            "autre",
            "tif",
            ["Castanier", "12/03/2025"],
            page="2",
        ),
        question(
            "À quelle date la réception du réservoir de Puy-Sarrat a-t-elle été prononcée ?",
            None,
            "",
            "autre",
            "png",
            [],
            note="no reception report for the reservoir (only a planned delivery)",
        ),
    ]
    return questions, scans


# ------------------------------------------------------------------------------------------ docx, md
def write_cctp(out: Path) -> list[dict[str, Any]]:
    from docx import Document  # noqa: PLC0415

    name = "cctp_lot2.docx"
    document = Document()
    properties = document.core_properties
    properties.author, properties.title = COMPANY, "CCTP lot 2 Gros œuvre"
    properties.created = properties.modified = properties.last_printed = FROZEN
    properties.revision = 1
    document.add_heading("CCTP — Lot 2 Gros œuvre", level=0)
    document.add_paragraph(f"{SCHOOL_NAME} — maître d'ouvrage : {CLIENT_SCHOOL} — maître d'œuvre : {ARCHITECT_SCHOOL}")
    sections = [
        (
            "1 Généralités",
            [
                "Le présent cahier des clauses techniques particulières décrit les ouvrages du lot 2 Gros œuvre. Les "
                "travaux sont exécutés conformément aux DTU en vigueur, notamment le NF DTU 21 et le NF DTU 13.3.",
                "L'entreprise établit les plans d'exécution et les notes de calcul, soumis au visa du maître d'œuvre "
                "trois semaines avant l'exécution.",
            ],
        ),
        (
            "2 Dallages",
            [
                "Les dallages des salles de classe sont en béton C25/30 XC2, d'une épaisseur de 15 cm, armés d'un "
                "treillis soudé ST 25 C, coulés sur un film polyéthylène de 150 µm et un isolant en polystyrène "
                "expansé de 80 mm.",
                "Tolérance de planéité : 7 mm sous la règle de 2 m. Les joints de retrait sont sciés dans les 24 "
                "heures suivant le coulage, en panneaux de 25 m² au plus.",
            ],
        ),
        (
            "3 Bétons et armatures",
            [
                "Les classes d'exposition et les enrobages sont les suivants :",
            ],
        ),
        (
            "4 Maçonneries",
            [
                "Les murs de refend non porteurs sont en blocs de béton creux B40 de 20 cm, hourdés au mortier de "
                "ciment, avec chaînages verticaux à chaque angle et tous les 5 m.",
            ],
        ),
    ]
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
        if heading.startswith("3"):
            rows = [
                ["Ouvrage", "Classe d'exposition", "Enrobage nominal"],
                ["Fondations", "XC2", "3 cm"],
                ["Dallages", "XC2", "3 cm"],
                ["Voiles extérieurs", "XC4 / XF1", "3,5 cm"],
                ["Poteaux du préau", "XC4 / XF1", "3,5 cm"],
                ["Ouvrages intérieurs", "XC1", "2,5 cm"],
            ]
            table = document.add_table(rows=len(rows), cols=3)
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
    document.save(out / name)
    freeze_zip(out / name)
    return [
        question(
            "Quelle épaisseur et quel treillis le CCTP du lot 2 prévoit-il pour les dallages du groupe scolaire ?",
            name,
            "15 cm de béton C25/30 XC2, armé d'un treillis soudé ST 25 C, sur film polyéthylène 150 µm et isolant "
            "PSE 80 mm",
            "autre",
            "docx",
            ["15 cm", "ST 25 C"],
        ),
        question(
            "Quel enrobage nominal le CCTP du lot 2 impose-t-il pour les voiles extérieurs ?",
            name,
            "3,5 cm (classe d'exposition XC4 / XF1)",
            "question_chiffree",
            "docx",
            ["3,5 cm"],
        ),
    ]


SITE_REPORT_MD = f"""# Compte rendu de chantier n° 12 — Résidence Les Genêts ({GENETS})

Réunion du mercredi 08/10/2025 à 9 h 00, base vie du bâtiment A.

Présents : Agnès Delteil ({CLIENT_GENETS}), Julien Roqueplane et Paulo Teixeira ({COMPANY}), Bruno Vayssière
(Thermi-Alagne, chauffage), Odile Ferrand (Doumergue Plâtrerie).

## Avancement

| Bâtiment | Isolation extérieure | Menuiseries extérieures | Salles d'eau | Électricité |
|---|---|---|---|---|
| A | 100 % | 100 % | 90 % | 80 % |
| B | 60 % | 40 % | 25 % | 30 % |
| C | 0 % | 0 % | 0 % | 0 % |

## Observations

1. Doumergue Plâtrerie doit reprendre les cloisons du logement B12 (fissures aux angles des huisseries) avant le
   17/10/2025.
2. Essai d'étanchéité à l'air du bâtiment A : 0,8 m³/(h.m²) sous 4 Pa, conforme à l'objectif de 1,0 m³/(h.m²).
3. Thermi-Alagne livre le silo à granulés de la chaufferie le 20/10/2025 ; l'accès par l'allée des Tilleuls sera
   fermé ce jour-là de 8 h à 12 h.

## Sécurité

Le garde-corps provisoire de la coursive du 2e étage du bâtiment B a été retrouvé démonté : remise en place
immédiate par {COMPANY}.

Prochaine réunion de chantier : mercredi 15/10/2025 à 9 h 00.
"""


def write_site_report(out: Path) -> list[dict[str, Any]]:
    name = "compte_rendu_chantier_12.md"
    (out / name).write_text(SITE_REPORT_MD, encoding="utf-8")
    return [
        question(
            "Quel logement de la résidence Les Genêts doit voir ses cloisons reprises, et avant quelle date ?",
            name,
            "Le logement B12, par Doumergue Plâtrerie, avant le 17/10/2025",
            "autre",
            "md",
            ["B12", "17/10/2025"],
        ),
        question(
            "Quel résultat a donné l'essai d'étanchéité à l'air du bâtiment A des Genêts ?",
            name,
            "0,8 m³/(h.m²) sous 4 Pa, conforme à l'objectif de 1,0 m³/(h.m²)",
            "question_chiffree",
            "md",
            ["0,8"],
        ),
    ]


def write_failures(out: Path, rng: random.Random) -> None:
    """A drawing the product cannot read (reported as skipped) and an empty PDF (reported as failed)."""
    (out / "plan_masse.dwg").write_bytes(b"AC1032" + bytes(rng.randrange(256) for _ in range(2042)))
    (out / "vide.pdf").write_bytes(b"")


# ------------------------------------------------------------------------------------------ questions.yml
QUESTIONS_HEADER = """\
# Questions de référence pour le corpus de formats généré par bench/formats_corpus.py (entreprise fictive
# « Constructions Hautes-Terres »), dans le schéma de samples/questions.yml.
# expected_source : nom du seul document qui contient la réponse (null si la réponse n'est pas dans le corpus) ; pour
#   une pièce jointe, son propre nom (le dernier élément de la source « <mail>/<pièce jointe> » donnée par
#   l'indexeur), le mail qui la porte étant dans attachment_of.
# answer : réponse de référence courte, présente telle quelle ou presque dans le document.
# kind : question_chiffree | fiche_identite | autre
# format : format du fichier qui porte la réponse (xlsx, ods, eml, pptx, scan-pdf, png, tif, pdf-table, pdf-2col,
#   pdf-mixed, docx, md) ; une question sur une pièce jointe compte pour eml.
# key_facts : chaînes qu'une bonne réponse doit contenir, comparées après normalisation des espaces, de la casse, des
#   accents et de la virgule décimale ; liste vide si la réponse n'est pas dans le corpus.
# page, where, note : précisions pour qui lit les résultats (page scannée ou non, notes de l'orateur, piège).
"""


def questions_yaml(questions: list[dict[str, Any]]) -> str:
    def scalar(value: Any) -> str:
        return "null" if value is None else json.dumps(value, ensure_ascii=False)

    blocks = []
    for item in questions:
        lines = [f"- question: {scalar(item['question'])}"]
        for key, value in item.items():
            if key == "question":
                continue
            if key == "key_facts":
                lines.append(f"  key_facts: [{', '.join(scalar(v) for v in value)}]")
            elif key in {"kind", "format"}:
                lines.append(f"  {key}: {value}")
            else:
                lines.append(f"  {key}: {scalar(value)}")
        blocks.append("\n".join(lines))
    return QUESTIONS_HEADER + "\n" + "\n\n".join(blocks) + "\n"


def build(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the documents into `root/documents`, and `questions.yml` and `scans.json` into `root`."""
    out = root / DOCUMENTS
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)  # noqa: S311 (reproducible data, not a secret)
    questions: list[dict[str, Any]] = []
    questions += write_dqe(out)
    questions += write_situation(out)
    questions += write_staff(out)
    questions += write_mail_avenant(out)
    questions += write_mail_meeting(out)
    questions += write_mail_forward(out)
    questions += write_slides(out)
    scan_questions, scans = write_scans(out)
    questions += scan_questions
    questions += write_test_report(out, rng)
    questions += write_two_column_note(out)
    contract_questions, contract_scans = write_mixed_contract(out)
    questions += contract_questions
    scans += contract_scans
    questions += write_cctp(out)
    questions += write_site_report(out)
    write_failures(out, rng)
    (root / "questions.yml").write_text(questions_yaml(questions), encoding="utf-8")
    (root / "scans.json").write_text(json.dumps(scans, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return questions, scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="the folder to write (created if missing)")
    args = parser.parse_args()
    started = time.monotonic()
    questions, scans = build(args.out_dir)
    files = sorted(p.name for p in (args.out_dir / DOCUMENTS).iterdir())
    unanswerable = sum(q["expected_source"] is None for q in questions)
    print(
        f"{len(files)} documents in {args.out_dir / DOCUMENTS}, {len(questions)} questions ({unanswerable} "
        f"unanswerable), {len(scans)} scanned pages ({time.monotonic() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
