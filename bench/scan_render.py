"""
Synthetic scans of French business pages (text or a ruled table), and the character error rate of an OCR reading.

`render_scan` and `render_table_scan` draw a page with a TrueType font, then degrade it like a scanner does (a slight
rotation, salt-and-pepper noise, a light blur); `character_error_rate` compares a reading with the text drawn.

    .venv/bin/python bench/scan_render.py --measure

reads 6 pages (and a ruled table) at rotations 0/1/2/-1.5° and noise 0.01/0.03 with plain tesseract (raw) and
with `components.converters.ocr.ocr_image` (`prepare_scan`, then tesseract), and prints the character error rates
and the seconds per page.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MM_PER_INCH = 25.4
POINTS_PER_INCH = 72

DELIVERY_NOTE = """Bon de livraison n° BL-2024-0871

Fournisseur : Béton Rhône Granulats, 14 route de Lyon, 38200 Vienne.

Client : Travaux Publics du Dauphiné, chantier de la déviation de Saint-Marcellin.

Date de livraison : 12 mars 2024, arrivée du camion à 7 h 45.

Désignation : béton prêt à l'emploi C25/30 XC2, classe de consistance S3, volume livré 8,50 m³.

Adjuvant : plastifiant réducteur d'eau, dosage 0,8 % du poids de ciment.

Observations : le chauffeur a attendu vingt minutes avant le coulage du voile. Le conducteur de travaux
a contrôlé l'affaissement au cône d'Abrams : 12 cm, conforme à la commande.

Signature du réceptionnaire et cachet de l'entreprise."""

SITE_REPORT = """Compte rendu de chantier n° 14

Réunion du jeudi 4 avril 2024 sur le chantier de l'ouvrage d'art OA3, en présence du maître d'oeuvre,
du coordonnateur sécurité et des représentants des entreprises titulaires des lots 1 à 4.

Avancement : les fondations de la culée est sont achevées. Le ferraillage du tablier a commencé lundi et
doit être réceptionné avant le bétonnage prévu le 18 avril. Le retard de trois jours dû aux intempéries
est résorbé.

Sécurité : les garde-corps provisoires de la passerelle ont été déplacés sans autorisation. L'entreprise
doit les remettre en place avant la fin de la semaine et informer le coordonnateur de toute modification.

Prochaine réunion le jeudi 11 avril à 9 h 30 dans la base vie."""

INVOICE = """Facture n° FA-2024-0312

Travaux Publics du Dauphiné, 5 avenue des Alpes, 38160 Saint-Marcellin, SIRET 412 345 678 00021.

Destinataire : Communauté de communes Saint-Marcellin Vercors Isère, service des routes.

Objet : réfection de la chaussée de la route départementale 1092, situation de travaux n° 3.

Terrassements et purges : 3 250,00 € HT.

Couche de base en grave-bitume, 420 tonnes : 12 480,50 € HT.

Enrobés BBSG 0/10, 310 tonnes : 28 914,80 € HT.

Signalisation horizontale : 1 806,20 € HT.

Total HT : 46 451,50 €. TVA à 20 % : 9 290,30 €. Total TTC : 55 741,80 €.

Paiement à 30 jours par virement, pénalités de retard au taux légal."""

RECEPTION_REPORT = """Procès-verbal de réception des travaux

Marché n° 2023-TP-045 : aménagement du carrefour giratoire de la zone d'activités des Plantées.

Le maître d'ouvrage, après avoir pris connaissance des opérations préalables à la réception, décide de
prononcer la réception avec réserves à la date du 28 juin 2024.

Réserves : reprise de deux bordures fissurées côté nord, nettoyage des regards d'eaux pluviales,
complément de signalisation verticale à l'entrée ouest. L'entreprise dispose d'un délai de
quarante-cinq jours pour lever ces réserves.

La garantie de parfait achèvement court à compter de la date de réception."""

SAFETY_PLAN = """Plan particulier de sécurité et de protection de la santé

Travaux en tranchée : toute fouille de plus de 1,30 m de profondeur est blindée ou talutée avant
l'intervention du personnel. Les déblais sont stockés à plus de 0,40 m du bord de la fouille.

Réseaux enterrés : les déclarations d'intention de commencement de travaux ont été faites. Les
réseaux de gaz et d'électricité sont repérés par un marquage au sol avant tout terrassement.

Engins : seuls les conducteurs titulaires d'une autorisation de conduite utilisent les pelles et
les compacteurs. Le port du gilet haute visibilité et du casque est obligatoire sur tout le chantier."""

LETTER = """Objet : mise en demeure de reprendre les travaux

Madame, Monsieur,

Par ordre de service du 2 mai 2024, nous vous avons demandé de reprendre les travaux de pose des
canalisations d'assainissement rue Jean Jaurès, interrompus depuis le 15 avril sans justification.

À ce jour, aucune équipe n'est présente sur le chantier. Nous vous mettons en demeure de reprendre les
travaux sous huit jours à compter de la réception de ce courrier, faute de quoi les pénalités prévues à
l'article 4.3 du cahier des clauses administratives particulières vous seront appliquées.

Veuillez agréer, Madame, Monsieur, l'expression de nos salutations distinguées."""

PAGES = {
    "bon de livraison": DELIVERY_NOTE,
    "compte rendu": SITE_REPORT,
    "facture": INVOICE,
    "PV de réception": RECEPTION_REPORT,
    "PPSPS": SAFETY_PLAN,
    "mise en demeure": LETTER,
}

DELIVERY_TABLE = [
    ["Référence", "Désignation", "Quantité", "Unité", "Prix HT"],
    ["GR-0420", "Grave non traitée 0/31,5", "42,00", "t", "1 134,00 €"],
    ["BT-2530", "Béton C25/30 XC2 S3", "8,50", "m³", "1 020,00 €"],
    ["BD-T2", "Bordure béton T2", "120", "ml", "2 160,00 €"],
    ["CN-315", "Canalisation PVC 315 mm", "36", "ml", "1 512,00 €"],
    ["RG-1000", "Regard de visite 1000", "2", "u", "1 840,00 €"],
]


def _font(name: str, points: float, dpi: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size=max(6, round(points * dpi / POINTS_PER_INCH)))


def _page(dpi: int, width_mm: float, height_mm: float) -> Image.Image:
    size = (round(width_mm / MM_PER_INCH * dpi), round(height_mm / MM_PER_INCH * dpi))
    return Image.new("L", size, 255)


def _wrap(line: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    wrapped: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            wrapped.append(current)
            current = word
        else:
            current = candidate
    return [*wrapped, current] if current else wrapped


def _degrade(page: Image.Image, rotation_deg: float, noise: float, seed: int, dpi: int) -> Image.Image:
    if rotation_deg:
        page = page.rotate(rotation_deg, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.array(page)
    rng = np.random.default_rng(seed)
    hit = rng.random(pixels.shape) < noise
    pixels[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(radius=0.5 * dpi / 200))


def render_scan(
    text: str,
    *,
    rotation_deg: float = 1.0,
    noise: float = 0.02,
    dpi: int = 200,
    seed: int = 0,
    width_mm: float = 210,
    height_mm: float = 297,
    font: str = "DejaVuSans.ttf",
    font_pt: float = 11,
) -> Image.Image:
    """
    A scanned-looking page of text: its first line as a bold title, then its paragraphs (separated by blank lines)
    wrapped to the page width, on a white page, rotated, with salt-and-pepper noise and a light blur.

    :param text: The text, title first.
    :param rotation_deg: Counter-clockwise rotation of the page, degrees.
    :param noise: The share of pixels turned black or white at random.
    :param dpi: Resolution of the page.
    :param seed: Seed of the noise.
    :param width_mm: Page width.
    :param height_mm: Page height.
    :param font: A TrueType font file under /usr/share/fonts/truetype/dejavu.
    :param font_pt: Body text size, points (the title is 1.5 times bigger).
    :returns: The page, a grayscale image.
    """
    page = _page(dpi, width_mm, height_mm)
    draw = ImageDraw.Draw(page)
    margin = 20 / MM_PER_INCH * dpi
    width = page.width - 2 * margin
    title, _, body = text.strip().partition("\n")
    title_font = _font(font.replace(".ttf", "-Bold.ttf"), font_pt * 1.5, dpi)
    body_font = _font(font, font_pt, dpi)
    y = margin
    for line in _wrap(title, title_font, width):
        draw.text((margin, y), line, font=title_font, fill=0)
        y += title_font.size * 1.4
    y += body_font.size
    for paragraph in re.split(r"\n\s*\n", body.strip()):
        for line in _wrap(" ".join(paragraph.split()), body_font, width):
            draw.text((margin, y), line, font=body_font, fill=0)
            y += body_font.size * 1.35
        y += body_font.size * 0.8
    return _degrade(page, rotation_deg, noise, seed, dpi)


def render_table_scan(
    rows: list[list[str]],
    *,
    title: str = "Bon de livraison",
    rotation_deg: float = 1.0,
    noise: float = 0.02,
    dpi: int = 200,
    seed: int = 0,
    width_mm: float = 210,
    height_mm: float = 297,
    font_pt: float = 10,
) -> Image.Image:
    """
    A scanned-looking ruled table (a delivery note's lines): a title, then the rows in a grid, the first in bold.

    :param rows: The table's rows, header first.
    :param title: The line above the table ("" for none).
    :param rotation_deg: Counter-clockwise rotation of the page, degrees.
    :param noise: The share of pixels turned black or white at random.
    :param dpi: Resolution of the page.
    :param seed: Seed of the noise.
    :param width_mm: Page width.
    :param height_mm: Page height.
    :param font_pt: Cell text size, points.
    :returns: The page, a grayscale image.
    """
    page = _page(dpi, width_mm, height_mm)
    draw = ImageDraw.Draw(page)
    margin = 20 / MM_PER_INCH * dpi
    body_font = _font("DejaVuSans.ttf", font_pt, dpi)
    header_font = _font("DejaVuSans-Bold.ttf", font_pt, dpi)
    y = margin
    if title:
        title_font = _font("DejaVuSans-Bold.ttf", font_pt * 1.6, dpi)
        draw.text((margin, y), title, font=title_font, fill=0)
        y += title_font.size * 2.5
    pad = body_font.size * 0.6
    columns = max(len(row) for row in rows)
    widths = [
        max(header_font.getlength(row[c]) if c < len(row) else 0 for row in rows) + 2 * pad for c in range(columns)
    ]
    row_height = body_font.size * 1.9
    rule = max(1, dpi // 100)
    left, top = margin, y
    right = left + sum(widths)
    for r, row in enumerate(rows):
        x = left
        for c, cell in enumerate(row):
            draw.text((x + pad, y + (row_height - body_font.size) / 2), cell, font=header_font if r == 0 else body_font)
            x += widths[c]
        y += row_height
    bottom = y
    for r in range(len(rows) + 1):
        draw.line([(left, top + r * row_height), (right, top + r * row_height)], fill=0, width=rule)
    x = left
    for width in [0, *widths]:
        x += width
        draw.line([(x, top), (x, bottom)], fill=0, width=rule)
    return _degrade(page, rotation_deg, noise, seed, dpi)


def _levenshtein(reference: str, hypothesis: str) -> int:
    if not reference or not hypothesis:
        return len(reference) + len(hypothesis)
    target = np.array([ord(c) for c in hypothesis], dtype=np.int64)
    steps = np.arange(len(hypothesis) + 1, dtype=np.int64)
    previous = steps.copy()
    current = np.empty_like(previous)
    for i, char in enumerate(reference, start=1):
        current[0] = i
        # substitution (or match) and deletion; insertion, cur[j] = min(cur[j], cur[j-1] + 1), is a running minimum
        np.minimum(previous[:-1] + (target != ord(char)), previous[1:] + 1, out=current[1:])
        current = np.minimum.accumulate(current - steps) + steps
        previous, current = current, previous
    return int(previous[-1])


def character_error_rate(reference: str, hypothesis: str) -> float:
    """
    The Levenshtein distance between two texts' characters, whitespace runs collapsed to one space, divided by the
    reference's length.

    :param reference: The text drawn.
    :param hypothesis: The text read.
    :returns: The error rate (0.0 for a perfect reading; above 1.0 possible when the reading is longer).
    """
    reference, hypothesis = " ".join(reference.split()), " ".join(hypothesis.split())
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return _levenshtein(reference, hypothesis) / len(reference)


def _measure(rotations: list[float], noises: list[float], dpi: int, languages: str) -> None:
    import sys  # noqa: PLC0415  (the CLI alone needs the project's OCR module and pytesseract)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import pytesseract  # noqa: PLC0415

    from components.converters.ocr import ocr_image  # noqa: PLC0415

    def raw(image: Image.Image) -> str:
        return pytesseract.image_to_string(image, lang=languages)

    def prepared(image: Image.Image) -> str:  # prepare_scan, then tesseract as the converters call it
        return ocr_image(image, languages=languages.split("+"))

    table_text = "\n".join(" ".join(row) for row in DELIVERY_TABLE)
    pages = [(name, text, False) for name, text in PAGES.items()] + [("tableau (BL)", table_text, True)]
    row = "{:<18} {:>5} {:>5} {:>8} {:>8} {:>6} {:>6}"
    print(row.format("page", "rot°", "noise", "CER raw", "CER prep", "s raw", "s prep"))
    results: dict[bool, list[tuple[float, float, float, float]]] = {False: [], True: []}
    for seed, (name, text, table) in enumerate(pages):
        for rotation in rotations:
            for noise in noises:
                options = {"rotation_deg": rotation, "noise": noise, "dpi": dpi, "seed": seed}
                image = (
                    render_table_scan(DELIVERY_TABLE, title="", **options) if table else render_scan(text, **options)
                )
                measured = []
                for read in (raw, prepared):
                    start = time.perf_counter()
                    hypothesis = read(image)
                    measured.append((character_error_rate(text, hypothesis), time.perf_counter() - start))
                (cer_raw, t_raw), (cer_prep, t_prep) = measured
                results[table].append((cer_raw, cer_prep, t_raw, t_prep))
                print(
                    row.format(
                        name,
                        f"{rotation:.1f}",
                        f"{noise:.2f}",
                        f"{cer_raw:.2%}",
                        f"{cer_prep:.2%}",
                        f"{t_raw:.2f}",
                        f"{t_prep:.2f}",
                    )
                )
    for table, label in ((False, "text pages"), (True, "table")):
        columns = list(zip(*results[table], strict=True))
        mean = [sum(column) / len(column) for column in columns]
        print(
            row.format(f"mean, {label}", "", "", f"{mean[0]:.2%}", f"{mean[1]:.2%}", f"{mean[2]:.2f}", f"{mean[3]:.2f}")
        )
        print(row.format(f"max, {label}", "", "", f"{max(columns[0]):.2%}", f"{max(columns[1]):.2%}", "", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", action="store_true", help="read the pages with tesseract and print the CER")
    parser.add_argument("--rotations", type=float, nargs="+", default=[0, 1, 2, -1.5])
    parser.add_argument("--noises", type=float, nargs="+", default=[0.01, 0.03])
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--languages", default="fra")
    parser.add_argument("--save", type=Path, default=None, help="write the first page rendered here (PNG)")
    args = parser.parse_args()
    if args.save:
        render_scan(DELIVERY_NOTE, rotation_deg=args.rotations[0], noise=args.noises[0], dpi=args.dpi).save(args.save)
    if args.measure:
        _measure(args.rotations, args.noises, args.dpi, args.languages)
    elif not args.save:
        parser.print_help()


if __name__ == "__main__":
    main()
