"""
A generated HELD-OUT sample corpus for the answer benchmark (`bench/answers.py --suites heldout`): ~20 Markdown and
text documents of a fictional building and civil-works contractor, « Bâtisseurs de l'Estuaire » (BDE), with its
questions. It is never used to tune the product: it checks that what works on samples/ works on documents written
in another style.

    .venv/bin/python bench/heldout_corpus.py OUT_DIR

writes OUT_DIR/documents/* (.md and .txt only) and OUT_DIR/questions.yml, then checks them (`check`).

Unlike samples/corpus/ (« Routes & Ouvrages du Val », codes like A2458, YAML front matter, one layout per family),
here: numeric affair codes (24-017, 25-103), an operation code OP-2025-07, quotes « DV 25/0312 », invoices
« FA-25-00981 », contracts « 2024/VDR/011 » or « M25.0042 », a purchase order « BC 4500218764 »; no front matter;
affair sheets as dotted key/value lines, as a two-column table or as a bullet list; minutes with a decision table
then a later meeting that overturns decisions; a quote in two versions (indice A, indice B); a contract and its
avenant n° 1; test reports as a Markdown table and as a fixed-width text table.

Questions, in the schema of samples/questions.yml: `question`, `expected_source` (file name or null), `answer`,
`kind`, `key_facts` and, for `version` questions, `stale_facts` (the superseded value, which a right answer must not
give as current). Kinds: question_chiffree, fiche_identite, version, table, autre; unanswerable: near_miss
(something close exists: avenant n° 2 when only n° 1 does, an affair code that looks like a real one...) and
hors_corpus. Everything is invented and written deterministically (no clock, no randomness).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.judging import contains  # noqa: E402

DOCUMENTS = "documents"
UNANSWERED = "Information absente du corpus."

# ------------------------------------------------------------------------------------------ the fictional company
COMPANY = "Bâtisseurs de l'Estuaire"
SHORT = "BDE"
HOME = "Saint-Néral"
PRESIDENT = "Hervé Castagnède"
WORKS_DIRECTOR = "Sylvie Moncourt"
QSE = "Amandine Peyrelongue"

POLE = "24-017"  # pôle enfance de Vaudrenne (commune)
QUAI = "25-103"  # quai Nord de Port-Merlin (syndicat mixte du port)
BASSIN = "25-088"  # bassin d'eaux pluviales de Cazaillac (communauté de communes)
ENTREPOT = "OP-2025-07"  # extension d'entrepôt frigorifique à Lestrac (client privé)
QUOTE = "DV 25/0312"  # atelier et quais des Transports Laborde & Fils
INVOICE = "FA-25-00981"
ORDER = "BC 4500218764"
POLE_CONTRACT = "2024/VDR/011"
QUAI_CONTRACT = "M25.0042"
BASSIN_CONTRACT = "2025-T-06"

# (code, chantier, conducteur de travaux, chef de chantier, coordonnateur SPS) — 25-088 came later: not listed
TEAMS = [
    (POLE, "Pôle enfance de Vaudrenne", "Thibault Arnaudin", "Rui Carvalho", "Claire Vidalenc (Prévantis)"),
    (QUAI, "Quai Nord de Port-Merlin", "Nadia Bensaïd", "Didier Escoubet", "Olivier Bramerie (Sécuriance)"),
    (ENTREPOT, "Entrepôt FAD, Lestrac", "Grégoire Pélissou", "Fabrice Dartigue", "Luc Fabre-Sabatier (Atlas)"),
]
# (nom, fonction, portable) — no phone for the site foremen
CONTACTS = [
    (PRESIDENT, "Président", "06 12 48 75 30"),
    (WORKS_DIRECTOR, "Directrice de travaux", "06 34 91 27 06"),
    ("Thibault Arnaudin", f"Conducteur de travaux ({POLE})", "06 71 42 18 93"),
    ("Nadia Bensaïd", f"Conductrice de travaux ({QUAI})", "06 62 08 31 57"),
    ("Grégoire Pélissou", f"Conducteur de travaux ({ENTREPOT})", "07 81 55 64 12"),
    (QSE, "Responsable QSE", "06 45 19 83 22"),
]

# (n°, désignation, unité, quantité, PU HT) — DV 25/0312, indice A then indice B
QUOTE_A = [
    ("1", "Installation et repli de chantier", "Ft", "1", "3200.00"),
    ("2", "Démolition de la dalle existante et évacuation en centre agréé", "m²", "420", "18.50"),
    ("3", "Dallage béton fibré ép. 18 cm, finition lissée", "m²", "420", "64.00"),
    ("4", "Reprise des quais avec niveleurs hydrauliques", "u", "3", "4850.00"),
    ("5", "Joints sciés et produit de cure", "ml", "180", "6.40"),
]
QUOTE_B = [
    ("1", "Installation et repli de chantier", "Ft", "1", "3400.00"),
    ("2", "Démolition de la dalle existante et évacuation en centre agréé", "m²", "480", "18.50"),
    ("3", "Dallage béton fibré ép. 20 cm, finition lissée", "m²", "480", "69.50"),
    ("4", "Reprise des quais avec niveleurs hydrauliques", "u", "4", "4850.00"),
    ("5", "Joints sciés et produit de cure", "ml", "205", "6.40"),
    ("6", "Caniveau à grille fonte classe D400 (zone de lavage)", "ml", "24", "212.00"),
]
# DPGF of OP-2025-07, lot 02 gros œuvre, indice 1
DPGF = [
    ("02.1", "Installation de chantier, clôtures et base vie", "Ft", "1", "18500.00"),
    ("02.2", "Terrassements en pleine masse", "m³", "3150", "9.80"),
    ("02.3", "Semelles isolées en béton C25/30 XC2", "m³", "186", "238.00"),
    ("02.4", "Longrines préfabriquées", "u", "64", "1145.00"),
    ("02.5", "Dallage industriel quartzé ép. 22 cm sur isolant (chambre froide)", "m²", "2400", "86.40"),
    ("02.6", "Voiles en béton banché ép. 20 cm", "m²", "1320", "118.00"),
    ("02.7", "Quais de chargement en béton armé", "u", "6", "7950.00"),
    ("02.8", "Réseaux enterrés sous dallage", "ml", "410", "54.00"),
]
ORDER_DISCOUNT = Decimal("0.02")
# concrete test results of 24-017: prélèvement, coulage, ouvrage, classe, Rc 7 j, Rc 28 j (MPa)
CONCRETE = [
    ("P1", "20/01/2025", "Semelles filantes, file A", "C25/30 XC2", "24.8", "34.6"),
    ("P2", "03/02/2025", "Voiles RDC, façade nord", "C25/30 XC4", "26.1", "36.2"),
    ("P3", "10/02/2025", "Poteaux du hall", "C25/30 XC1", "23.5", "32.9"),
    ("P4", "17/02/2025", "Voiles RDC, façade sud", "C25/30 XC4", "19.4", "27.6"),
    ("P5", "24/02/2025", "Dallage du multi-accueil", "C25/30 XC1", "22.7", "31.8"),
]
CONCRETE_TARGET = Decimal("29.0")  # fck + 4 MPa on cylinders
# plate-load tests of 25-088: point, localisation, EV1, EV2 (MPa)
PLATES = [
    ("PL1", "angle nord-ouest", "36.5", "70.2"),
    ("PL2", "milieu côté nord", "41.0", "76.8"),
    ("PL3", "angle nord-est", "33.8", "64.1"),
    ("PL4", "centre du fond de fouille", "21.7", "38.0"),
    ("PL5", "angle sud-est", "38.2", "72.9"),
    ("PL6", "angle sud-ouest", "35.1", "69.3"),
]
# NF EN 206/CN synthesis: classe, environnement, Eeff/liant max, liant min (kg/m³), résistance min
EXPOSURE = [
    ("XC1", "Sec ou humide en permanence (intérieur)", "0,65", "260", "C20/25"),
    ("XC2", "Humide, rarement sec (fondations)", "0,65", "260", "C20/25"),
    ("XC3", "Humidité modérée (abri extérieur)", "0,60", "280", "C25/30"),
    ("XC4", "Alternance humidité / séchage (façades)", "0,60", "280", "C25/30"),
    ("XS1", "Air véhiculant du sel marin, sans contact direct", "0,55", "330", "C30/37"),
    ("XS2", "Immersion permanente en eau de mer", "0,55", "330", "C30/37"),
    ("XS3", "Zones de marnage et d'éclaboussures", "0,50", "350", "C35/45"),
    ("XF1", "Gel modéré sans sels de déverglaçage", "0,60", "280", "C25/30"),
]
CLIENT_TURNOVER = [  # year, turnover with BDE, works
    ("2022", "412 000 €", "voirie de la ZA du Pontet"),
    ("2023", "655 000 €", "gymnase de Lestrac (gros œuvre)"),
    ("2024", "298 000 €", "ateliers techniques"),
]


# ------------------------------------------------------------------------------------------ helpers
def money(value: Decimal | str, decimals: int = 2) -> str:
    """`Decimal("1284600")` -> `1 284 600,00`."""
    text = f"{Decimal(value):,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",")


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fr(value: str) -> str:
    """`"24.8"` -> `24,8`: a decimal as written in French."""
    return value.replace(".", ",")


def q(text: str, source: str, answer: str, kind: str, facts: list[str], *, stale: list[str] | None = None) -> dict:
    item: dict[str, Any] = {"question": text, "expected_source": source, "answer": answer, "kind": kind}
    item["key_facts"] = facts
    if stale:
        item["stale_facts"] = stale
    return item


def lines_total(lines: list[tuple[str, str, str, str, str]]) -> tuple[list[Decimal], Decimal]:
    amounts = [cents(Decimal(qty) * Decimal(price)) for _, _, _, qty, price in lines]
    return amounts, sum(amounts, Decimal(0))


def md_table(header: list[str], rows: list[tuple[str, ...]], align: str = "") -> str:
    """A Markdown table; `align` gives each column's alignment, `l` or `r` (left by default)."""
    align = align.ljust(len(header), "l")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def price_table(lines: list[tuple[str, str, str, str, str]], amounts: list[Decimal]) -> str:
    rows = ["| N° | Désignation | U | Qté | PU HT (€) | Montant HT (€) |", "|---|---|---|---:|---:|---:|"]
    for (number, label, unit, qty, price), amount in zip(lines, amounts, strict=True):
        rows.append(f"| {number} | {label} | {unit} | {money(qty, 0)} | {money(price)} | {money(amount)} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------ affair sheets
POLE_SHEET = "fiche_affaire_24-017_pole_enfance_vaudrenne.txt"
QUAI_SHEET = "fiche_affaire_25-103_quai_nord_port-merlin.md"
ENTREPOT_SHEET = "fiche_operation_OP-2025-07_entrepot_lestrac.md"
BASSIN_SHEET = "fiche_affaire_25-088_bassin_cazaillac.txt"
POLE_INITIAL = Decimal("1284600.00")
QUAI_AMOUNT = Decimal("2146750.00")


def affair_sheets() -> tuple[dict[str, str], list[dict]]:
    pole = f"""{COMPANY.upper()} — FICHE AFFAIRE
Mise à jour du 15/10/2024

Code affaire .............. : {POLE}
Intitulé .................. : Construction du pôle enfance de Vaudrenne (multi-accueil de 30 berceaux et accueil
                              de loisirs sans hébergement)
Adresse du chantier ....... : chemin des Écoliers, Vaudrenne
Client .................... : Commune de Vaudrenne (maire : Mme Josiane Taillefer)
Maître d'œuvre ............ : Atelier Sauvestre-Lambrin Architectes (mandataire), BET structure Ossatec
Marché .................... : n° {POLE_CONTRACT}, lot 02 Gros œuvre – maçonnerie, procédure adaptée
Notification .............. : 02/10/2024
Montant du marché ......... : {money(POLE_INITIAL)} € HT
Délai ..................... : 14 mois, période de préparation d'un mois comprise
Démarrage des travaux ..... : 04/11/2024
Surface de plancher ....... : 1 150 m²
Structure ................. : fondations superficielles, voiles en béton banché, planchers sur prédalles ;
                              charpente bois au lot 03
Conducteur de travaux ..... : Thibault Arnaudin
Chef de chantier .......... : Rui Carvalho
Effectif moyen prévu ...... : 9 compagnons

Points particuliers
- Sol argileux : l'étude G2 AVP de Géosol Estuaire retient des semelles filantes ancrées à 1,20 m.
- École élémentaire voisine : aucune livraison de 8 h 15 à 8 h 45 ni de 16 h 15 à 16 h 45 en période scolaire.
- Chantier à faibles nuisances : bennes de tri séparées (bois, gravats, DIB) exigées par la commune.
"""
    quai = f"""# Affaire {QUAI} — Réhabilitation du quai Nord de Port-Merlin

| Rubrique | Contenu |
|---|---|
| Code affaire | {QUAI} |
| Objet | Rideau de palplanches neuf devant l'ancien mur du quai de la Criée, tirants, couronnement, bollards |
| Client | Syndicat mixte du port de Port-Merlin (SMPPM), directeur : M. Arnaud Keraudren |
| Maître d'œuvre | Ingémar Ports & Littoral |
| Marché | {QUAI_CONTRACT}, notifié le 14/04/2025 |
| Montant du marché | {money(QUAI_AMOUNT)} € HT |
| Délai | 11 mois, dont 1 mois de préparation |
| Conductrice de travaux | Nadia Bensaïd |
| Chef de chantier | Didier Escoubet |

## Quantités principales

| Ouvrage | Quantité |
|---|---:|
| Palplanches acier S355 GP (AZ 26-700), fiche de 16 m | 312 t |
| Tirants d'ancrage passifs Ø 75 mm | 38 u |
| Béton C35/45 XS3 de la poutre de couronnement | 265 m³ |
| Enrochements 0,3/1 t en pied de rideau | 2 600 t |
| Bollards de 50 t | 12 u |

## Contraintes d'exploitation

La criée reste en activité : aucun travail bruyant (vibrofonçage, battage) de 4 h à 7 h, pendant la vente. Les
travaux en pied de rideau se font aux basses mers de coefficient supérieur ou égal à 70.
"""
    entrepot = f"""# Fiche opération {ENTREPOT}

- Client : Froid Atlantique Distribution (FAD), plateforme logistique de Lestrac
- Objet : extension de 2 400 m² de l'entrepôt frigorifique (chambre froide négative à -25 °C et quais de chargement)
- Lieu : ZA de la Lande-Rousse, Lestrac
- Commande : bon de commande {ORDER} du 07/07/2025, lot 02 Gros œuvre
- Maîtrise d'œuvre : Cabinet Arcanthe Ingénierie (M. Jérôme Bastide)
- Conducteur de travaux : Grégoire Pélissou
- Chef de chantier : Fabrice Dartigue
- Démarrage : 01/09/2025 ; fin du lot 02 : 20/02/2026
- Dallage : isolé, sur hérisson ventilé (mise hors gel du sol) ; tolérance de planéité de 3 mm sous la règle de 2 m
  dans les allées des chariots
- Site en exploitation : la circulation des poids lourds du client est maintenue ; accès chantier par le portail 3
"""
    bassin = f"""AFFAIRE {BASSIN}
OBJET : création d'un bassin enterré de stockage-restitution des eaux pluviales de 3 200 m³, rue du Lavoir, Cazaillac
CLIENT : Communauté de communes Cœur d'Estuaire (CCCE)
MARCHÉ : n° {BASSIN_CONTRACT}, notifié le 22/07/2025
MONTANT : 684 250,00 € HT
MAÎTRE D'ŒUVRE : Hydrolis Conseil
CONDUCTRICE DE TRAVAUX : Manon Lachaize
CHEF DE CHANTIER : Sébastien Mahé
DÉMARRAGE : 08/09/2025 ; DURÉE : 7 mois

OUVRAGE
Bassin en béton armé de 40 m x 20 m, hauteur utile 4,00 m, fond de fouille à 4,20 m sous le terrain naturel.
Débit de fuite régulé à 15 l/s vers le ruisseau du Brameloup. Déblais : 4 350 m³, évacués vers l'ISDI de Lestrac.

OBSERVATIONS
Nappe rencontrée à 3,10 m lors des sondages : rabattement par pointes filtrantes pendant le terrassement et le radier.
"""
    docs = {POLE_SHEET: pole, QUAI_SHEET: quai, ENTREPOT_SHEET: entrepot, BASSIN_SHEET: bassin}
    # fmt: off
    questions = [
        q(f"Présente-moi l'affaire {POLE}.", POLE_SHEET,
          "Construction du pôle enfance de Vaudrenne (multi-accueil 30 berceaux et ALSH) pour la commune ; "
          f"marché n° {POLE_CONTRACT} (lot 02 Gros œuvre) ; conducteur de travaux Thibault Arnaudin.",
          "fiche_identite", ["pôle enfance", "Vaudrenne", POLE_CONTRACT, "Thibault Arnaudin"]),
        q(f"Présente-moi l'affaire {QUAI}.", QUAI_SHEET,
          "Réhabilitation du quai Nord (quai de la Criée) de Port-Merlin pour le SMPPM ; marché "
          f"{QUAI_CONTRACT} de {money(QUAI_AMOUNT)} € HT ; maître d'œuvre Ingémar Ports & Littoral.",
          "fiche_identite", ["quai Nord", "Port-Merlin", QUAI_CONTRACT, money(QUAI_AMOUNT)]),
        q(f"Parle-moi de l'opération {ENTREPOT}.", ENTREPOT_SHEET,
          "Extension de 2 400 m² de l'entrepôt frigorifique de Froid Atlantique Distribution à Lestrac (ZA de la "
          f"Lande-Rousse), lot 02 Gros œuvre commandé par le {ORDER} ; conducteur de travaux Grégoire Pélissou.",
          "fiche_identite", ["Froid Atlantique Distribution", "2 400 m²", "Lestrac", "Grégoire Pélissou"]),
        q(f"Présente-moi l'affaire {BASSIN}.", BASSIN_SHEET,
          "Bassin enterré de stockage-restitution des eaux pluviales de 3 200 m³ rue du Lavoir à Cazaillac pour la "
          f"Communauté de communes Cœur d'Estuaire ; marché n° {BASSIN_CONTRACT} de 684 250,00 € HT.",
          "fiche_identite", ["3 200 m³", "Cazaillac", "Cœur d'Estuaire", "684 250,00"]),
        q(f"Quel est le montant du marché de l'affaire {BASSIN} ?", BASSIN_SHEET,
          "684 250,00 € HT", "question_chiffree", ["684 250,00"]),
        q("À quelle profondeur se situe la nappe au droit du bassin de Cazaillac ?", BASSIN_SHEET,
          "À 3,10 m (sondages) : rabattement par pointes filtrantes pendant le terrassement et le radier",
          "question_chiffree", ["3,10 m"]),
        q("Quel tonnage d'enrochements est prévu en pied de rideau au quai Nord de Port-Merlin ?", QUAI_SHEET,
          "2 600 t d'enrochements 0,3/1 t", "table", ["2 600 t"]),
        q("Quel béton et quel volume sont prévus pour la poutre de couronnement du quai Nord ?", QUAI_SHEET,
          "Béton C35/45 XS3, 265 m³", "table", ["C35/45 XS3", "265 m³"]),
        q("Pendant quels créneaux les livraisons sont-elles interdites sur le chantier du pôle enfance de Vaudrenne ?",
          POLE_SHEET, "De 8 h 15 à 8 h 45 et de 16 h 15 à 16 h 45 en période scolaire (école voisine)",
          "autre", ["8 h 15", "16 h 15"]),
        q(f"Quelle tolérance de planéité est exigée pour le dallage de l'opération {ENTREPOT} ?", ENTREPOT_SHEET,
          "3 mm sous la règle de 2 m dans les allées des chariots", "question_chiffree", ["3 mm"]),
    ]
    # fmt: on
    return docs, questions


# ------------------------------------------------------------------------------------------ contract and avenant
CONTRACT = "marche_2024-VDR-011_acte_engagement.md"
AVENANT = "avenant_n1_marche_2024-VDR-011.md"
AVENANT_AMOUNT = Decimal("46380.00")


def contract_documents() -> tuple[dict[str, str], list[dict]]:
    vat = cents(POLE_INITIAL * Decimal("0.2"))
    new = POLE_INITIAL + AVENANT_AMOUNT
    rise = (AVENANT_AMOUNT / POLE_INITIAL * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    contract = f"""# Marché public de travaux n° {POLE_CONTRACT} — Acte d'engagement

**Pouvoir adjudicateur** : Commune de Vaudrenne, représentée par son maire.
**Titulaire** : {COMPANY} (SAS), 14 rue des Calfats, {HOME}.
**Opération** : construction du pôle enfance de Vaudrenne. **Lot 02** : Gros œuvre – maçonnerie.
**Procédure** : procédure adaptée (article R. 2123-1 du code de la commande publique).

## Article 1 — Prix

Le marché est conclu à prix global et forfaitaire, pour un montant de {money(POLE_INITIAL)} € HT, soit
{money(POLE_INITIAL + vat)} € TTC (TVA à 20 %). Les prix sont révisables mensuellement par l'index BT01.

## Article 2 — Délais

Le délai d'exécution est de 14 mois à compter de l'ordre de service de démarrage, période de préparation d'un mois
comprise.

## Article 3 — Pénalités

En cas de retard, le titulaire encourt une pénalité de 500,00 € HT par jour calendaire, sans mise en demeure
préalable. L'absence à une réunion de chantier est pénalisée de 150,00 € HT.

## Article 4 — Garanties et paiement

Une retenue de garantie de 5 % est prélevée sur chaque acompte ; elle peut être remplacée par une garantie à première
demande. Les acomptes sont payés dans un délai de 30 jours à compter de la réception de la demande de paiement.

Fait à Vaudrenne, le 02/10/2024.
"""
    avenant = f"""# Avenant n° 1 au marché n° {POLE_CONTRACT} (lot 02 Gros œuvre – maçonnerie)

Pôle enfance de Vaudrenne — affaire {SHORT} {POLE} — avenant signé le 12/05/2025.

## Objet

Lors des terrassements de la salle d'activités, une poche de vase a été découverte à 2,40 m de profondeur. Sur avis
de Géosol Estuaire (mission G3), les semelles filantes de cette zone sont remplacées par 18 micropieux de 9 m et des
longrines en béton armé. Le présent avenant intègre ces travaux supplémentaires au marché.

## Incidence financière

| | Montant HT |
|---|---:|
| Montant initial du marché | {money(POLE_INITIAL)} € |
| Avenant n° 1 : micropieux et longrines | {money(AVENANT_AMOUNT)} € |
| Nouveau montant du marché | {money(new)} € |

L'avenant représente une augmentation de {fr(str(rise))} % du montant initial. Le nouveau montant du marché est de
{money(new)} € HT, soit {money(cents(new * Decimal("1.2")))} € TTC.

## Incidence sur les délais

Le délai d'exécution est prolongé de 3 semaines. Les autres clauses du marché demeurent inchangées.
"""
    # fmt: off
    questions = [
        q(f"Quel est le montant actuel du marché {POLE_CONTRACT} du pôle enfance de Vaudrenne ?", AVENANT,
          f"{money(new)} € HT après l'avenant n° 1 ({money(POLE_INITIAL)} € HT initialement)", "version",
          [money(new)], stale=[money(POLE_INITIAL)]),
        q("Quel est le montant de l'avenant n° 1 du marché du pôle enfance de Vaudrenne, et pour quels travaux ?",
          AVENANT, f"{money(AVENANT_AMOUNT)} € HT (+{fr(str(rise))} %), pour 18 micropieux et des longrines sous la "
          "salle d'activités", "question_chiffree", [money(AVENANT_AMOUNT), "micropieux"]),
        q(f"Quel était le montant TTC initial du marché n° {POLE_CONTRACT} ?", CONTRACT,
          f"{money(POLE_INITIAL + vat)} € TTC ({money(POLE_INITIAL)} € HT)", "question_chiffree",
          [money(POLE_INITIAL + vat)]),
        q(f"Quelle pénalité de retard prévoit le marché {POLE_CONTRACT} ?", CONTRACT,
          "500,00 € HT par jour calendaire de retard, sans mise en demeure", "question_chiffree", ["500,00"]),
    ]
    # fmt: on
    return {CONTRACT: contract, AVENANT: avenant}, questions


# ------------------------------------------------------------------------------------------ site meetings
MEETING_7 = "CR_chantier_24-017_n07_2025-03-04.md"
MEETING_9 = "CR_chantier_24-017_n09_2025-03-18.txt"


def meeting_minutes() -> tuple[dict[str, str], list[dict]]:
    first = f"""# Compte rendu de réunion de chantier n° 07 — Pôle enfance de Vaudrenne ({POLE})

Réunion du mardi 04/03/2025, 14 h 00, bungalow de chantier. Rédacteur : Atelier Sauvestre-Lambrin Architectes.

Présents : Mme Josiane Taillefer (Commune de Vaudrenne), M. Paul Sauvestre (maître d'œuvre), M. Thibault Arnaudin
et M. Rui Carvalho ({SHORT}), Mme Claire Vidalenc (Prévantis), M. Jean-Luc Dufau (Charpentes Dufau, lot 03).

## Avancement

Voiles du rez-de-chaussée : 80 % coulés. Réseaux sous dallage du multi-accueil : terminés. Dallage du hall : à venir.

## Décisions

| N° | Sujet | Décision | Qui | Échéance |
|---|---|---|---|---|
| 7-1 | Prédalles du plancher haut du RDC | Fourniture confiée à Préfa Sud-Estuaire | {SHORT} | 11/03/2025 |
| 7-2 | Réservations de ventilation | Validées sur les plans CVC indice C | BET fluides | — |
| 7-3 | Coulage du plancher haut du RDC | Prévu le 21/03/2025 | {SHORT} | 21/03/2025 |
| 7-4 | Mise hors d'eau du bâtiment | Objectif fixé au 30/05/2025 | Lot 03 | 30/05/2025 |

## Sécurité

Le garde-corps de la trémie d'escalier a été complété. Rappel : port du casque obligatoire sur toute l'emprise.

Prochaine réunion : mardi 11/03/2025 à 14 h 00.
"""
    second = f"""COMPTE RENDU DE RÉUNION DE CHANTIER N° 09
Pôle enfance de Vaudrenne — affaire {SHORT} {POLE}
Réunion du mardi 18/03/2025, 14 h 00

Présents : Commune de Vaudrenne (Mme Taillefer), maîtrise d'œuvre (M. Sauvestre), {SHORT} (M. Arnaudin,
M. Carvalho), lot 03 (M. Dufau).

9.1 PRÉDALLES
Préfa Sud-Estuaire ne peut plus livrer avant la fin avril (panne de sa table de préfabrication). La fourniture des
prédalles est réattribuée à Préfabrication Cazalis ({HOME}), livraison le 31/03/2025. La décision 7-1 est annulée.

9.2 PLANCHER HAUT DU RDC
Le coulage du plancher haut du rez-de-chaussée est reporté au 02/04/2025.

9.3 MISE HORS D'EAU
Compte tenu du décalage du plancher, la mise hors d'eau est désormais fixée au 13/06/2025. Le lot 03 confirme.

9.4 ESSAIS
Le prélèvement P4 (voiles de la façade sud) est non conforme à 28 jours : voir le rapport du laboratoire.

Prochaine réunion : mardi 25/03/2025 à 14 h 00.
"""
    # fmt: off
    questions = [
        q("Quel fournisseur livre les prédalles du plancher haut du RDC du pôle enfance de Vaudrenne ?", MEETING_9,
          f"Préfabrication Cazalis ({HOME}), livraison le 31/03/2025 ; Préfa Sud-Estuaire, retenu à la réunion n° 7, "
          "ne peut plus livrer à temps", "version", ["Préfabrication Cazalis"], stale=["Préfa Sud-Estuaire"]),
        q(f"Quand le plancher haut du rez-de-chaussée de l'affaire {POLE} doit-il être coulé ?", MEETING_9,
          "Le 02/04/2025 (reporté ; la réunion n° 7 prévoyait le 21/03/2025)", "version", ["02/04/2025"],
          stale=["21/03/2025"]),
        q("Quelle est la date de mise hors d'eau du pôle enfance de Vaudrenne ?", MEETING_9,
          "Le 13/06/2025 (fixée à la réunion n° 9 ; l'objectif initial était le 30/05/2025)", "version",
          ["13/06/2025"], stale=["30/05/2025"]),
        q("Sur quels plans les réservations de ventilation du pôle enfance ont-elles été validées ?", MEETING_7,
          "Sur les plans CVC indice C (décision 7-2 de la réunion n° 07)", "autre", ["indice C"]),
    ]
    # fmt: on
    return {MEETING_7: first, MEETING_9: second}, questions


# ------------------------------------------------------------------------------------------ the quote, two versions
QUOTE_A_FILE = "DV_25-0312_indice_A.md"
QUOTE_B_FILE = "DV_25-0312_indice_B.md"


def quote_versions() -> tuple[dict[str, str], list[dict]]:
    docs: dict[str, str] = {}
    totals: dict[str, Decimal] = {}
    for index, lines, day, note in (
        ("A", QUOTE_A, "03/06/2025", "Offre établie d'après la visite du 27/05/2025."),
        (
            "B",
            QUOTE_B,
            "24/06/2025",
            "Cet indice B annule et remplace l'indice A du 03/06/2025 : dalle étendue à la "
            "zone de lavage (480 m²), épaisseur portée à 20 cm, quatrième niveleur, caniveau à grille ajouté.",
        ),
    ):
        amounts, total = lines_total(lines)
        totals[index] = total
        vat = cents(total * Decimal("0.2"))
        docs[f"DV_25-0312_indice_{index}.md"] = f"""# Devis {QUOTE} — indice {index}

{COMPANY} — 14 rue des Calfats, {HOME}. Chargé d'affaires : Grégoire Pélissou.
Client : Transports Laborde & Fils, 7 route de la Gare, Bourg-Sauveterre (M. Jacques Laborde, gérant).
Date : {day}. Validité : 3 mois.
Objet : réfection de la dalle de l'atelier et des quais de chargement.

{note}

{price_table(lines, amounts)}

| | |
|---|---:|
| Total HT | {money(total)} € |
| TVA 20 % | {money(vat)} € |
| Total TTC | {money(total + vat)} € |

Conditions : acompte de 30 % à la commande, solde à la réception. Délai d'exécution : 5 semaines, atelier fermé.
"""
    a_price, b_price = money(QUOTE_A[2][4]), money(QUOTE_B[2][4])
    # fmt: off
    questions = [
        q(f"Quel est le montant HT du devis {QUOTE} ?", QUOTE_B_FILE,
          f"{money(totals['B'])} € HT selon l'indice B du 24/06/2025, qui remplace l'indice A "
          f"({money(totals['A'])} € HT)", "version", [money(totals["B"])], stale=[money(totals["A"])]),
        q(f"Quel prix unitaire le devis {QUOTE} retient-il pour le dallage béton fibré ?", QUOTE_B_FILE,
          f"{b_price} € HT/m² (ép. 20 cm, 480 m²) dans l'indice B ; l'indice A prévoyait {a_price} € HT/m² en 18 cm",
          "version", [b_price], stale=[a_price]),
        q(f"Fais-moi une fiche sur le devis {QUOTE}.", QUOTE_B_FILE,
          "Réfection de la dalle de l'atelier et des quais de chargement pour Transports Laborde & Fils à "
          f"Bourg-Sauveterre ; indice B du 24/06/2025 : {money(totals['B'])} € HT ; acompte de 30 %.",
          "fiche_identite", ["Transports Laborde", "Bourg-Sauveterre", "indice B", money(totals["B"])]),
        q(f"Quel était le montant total HT de l'indice A du devis {QUOTE} ?", QUOTE_A_FILE,
          f"{money(totals['A'])} € HT (indice A du 03/06/2025, remplacé par l'indice B)", "question_chiffree",
          [money(totals["A"])]),
    ]
    # fmt: on
    return docs, questions


# ------------------------------------------------------------------------------------------ invoice, purchase order
INVOICE_FILE = "FA-25-00981_situation3_25-103.md"
ORDER_FILE = "bon_commande_4500218764_FAD.txt"


def billing_documents() -> tuple[dict[str, str], list[dict]]:
    cumul, before = Decimal("812400.00"), Decimal("534900.00")
    month = cumul - before
    vat = cents(month * Decimal("0.2"))
    retention = cents((month + vat) * Decimal("0.05"))
    net = month + vat - retention
    progress = (cumul / QUAI_AMOUNT * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    invoice = f"""# FACTURE N° {INVOICE}

Émise le 30/09/2025 par {COMPANY}, 14 rue des Calfats, {HOME}.
Client : Syndicat mixte du port de Port-Merlin (SMPPM), capitainerie, quai de l'Aviso, Port-Merlin.
Affaire : {QUAI} — réhabilitation du quai Nord. Marché : {QUAI_CONTRACT} ({money(QUAI_AMOUNT)} € HT).
Objet : situation de travaux n° 3, septembre 2025.

| Libellé | Montant (€) |
|---|---:|
| Cumul des travaux exécutés à la fin de la situation n° 3 (HT) | {money(cumul)} |
| Cumul à la fin de la situation n° 2 (HT) | {money(before)} |
| Montant HT de la situation n° 3 | {money(month)} |
| TVA 20 % | {money(vat)} |
| Montant TTC | {money(month + vat)} |
| Retenue de garantie 5 % | -{money(retention)} |
| **Net à payer** | **{money(net)}** |

Avancement cumulé : {fr(str(progress))} % du montant du marché.
Échéance : 30/10/2025, par virement (mandat administratif). Tout retard de paiement ouvre droit aux intérêts
moratoires et à l'indemnité forfaitaire de 40 € pour frais de recouvrement.
"""
    _, dpgf_total = lines_total(DPGF)
    discount = cents(dpgf_total * ORDER_DISCOUNT)
    ordered = dpgf_total - discount
    order = f"""FROID ATLANTIQUE DISTRIBUTION — SERVICE ACHATS
BON DE COMMANDE N° {ORDER.split()[1]}
Date : 07/07/2025
Fournisseur : {COMPANY}, {HOME}
Référence fournisseur : opération {ENTREPOT}
Acheteuse : Mme Corinne Vasseur, responsable achats

DÉSIGNATION
Lot 02 Gros œuvre de l'extension de l'entrepôt frigorifique de Lestrac, selon la DPGF indice 1 du 20/06/2025.

    Montant de la DPGF indice 1 ........ {money(dpgf_total)} € HT
    Remise commerciale 2 % ............ -{money(discount)} € HT
    MONTANT COMMANDÉ .................. {money(ordered)} € HT

CONDITIONS
- Paiement à 45 jours fin de mois, par virement, sur facture rappelant le numéro de commande.
- Retenue de garantie de 5 %, remplaçable par une caution bancaire.
- Pénalités de retard : 0,1 % du montant commandé par jour calendaire, plafonnées à 5 %.
- Toute prestation hors commande doit faire l'objet d'un avenant à la commande signé avant exécution.
"""
    # fmt: off
    questions = [
        q(f"Quel est le net à payer de la facture {INVOICE} ?", INVOICE_FILE,
          f"{money(net)} € ({money(month + vat)} € TTC moins {money(retention)} € de retenue de garantie)",
          "question_chiffree", [money(net)]),
        q(f"Quel montant de travaux est cumulé à la fin de la situation n° 3 de l'affaire {QUAI} ?", INVOICE_FILE,
          f"{money(cumul)} € HT, soit {fr(str(progress))} % du marché", "question_chiffree", [money(cumul)]),
        q("Quelle part du marché du quai Nord a été facturée à la fin de la situation n° 3 ?", INVOICE_FILE,
          f"{fr(str(progress))} % du marché ({money(cumul)} € HT cumulés)", "question_chiffree",
          [f"{fr(str(progress))} %"]),
        q(f"Quel est le montant commandé par le bon de commande {ORDER} ?", ORDER_FILE,
          f"{money(ordered)} € HT (DPGF indice 1 à {money(dpgf_total)} € HT moins une remise de 2 %)",
          "question_chiffree", [money(ordered)]),
        q(f"Quel délai de paiement prévoit la commande {ORDER} de Froid Atlantique Distribution ?", ORDER_FILE,
          "45 jours fin de mois, par virement", "autre", ["45 jours fin de mois"]),
    ]
    # fmt: on
    return {INVOICE_FILE: invoice, ORDER_FILE: order}, questions


# ------------------------------------------------------------------------------------------ DPGF
DPGF_FILE = "DPGF_OP-2025-07_lot02_gros_oeuvre.md"


def dpgf_document() -> tuple[dict[str, str], list[dict]]:
    amounts, total = lines_total(DPGF)
    vat = cents(total * Decimal("0.2"))
    text = f"""# DPGF — Lot 02 Gros œuvre — indice 1 du 20/06/2025

Opération {ENTREPOT} : extension de l'entrepôt frigorifique de Froid Atlantique Distribution, ZA de la
Lande-Rousse, Lestrac. Décomposition du prix global et forfaitaire établie par {COMPANY}.

{price_table(DPGF, amounts)}
| | **Total HT** | | | | **{money(total)}** |
| | TVA 20 % | | | | {money(vat)} |
| | **Total TTC** | | | | **{money(total + vat)}** |

Les quantités sont données à titre indicatif ; l'entreprise reste responsable de leur vérification.
"""
    by_number = {line[0]: (line, amount) for line, amount in zip(DPGF, amounts, strict=True)}
    (_, _, _, _, slab_price), _ = by_number["02.5"]
    (_, _, _, beams, _), _ = by_number["02.4"]
    _, walls = by_number["02.6"]
    # fmt: off
    questions = [
        q(f"Dans la DPGF du lot 02 de l'opération {ENTREPOT}, quel est le prix unitaire du dallage industriel "
          "quartzé ?", DPGF_FILE, f"{money(slab_price)} € HT/m² (2 400 m², ép. 22 cm sur isolant)", "table",
          [money(slab_price)]),
        q("Combien de longrines préfabriquées compte la DPGF du gros œuvre de l'entrepôt de Lestrac ?", DPGF_FILE,
          f"{beams} unités (poste 02.4)", "table", [money(beams, 0)]),
        q(f"Quel est le montant HT du poste des voiles en béton banché dans la DPGF de l'opération {ENTREPOT} ?",
          DPGF_FILE, f"{money(walls)} € HT (1 320 m² à 118,00 € HT/m²)", "table", [money(walls)]),
        q("Quel est le montant total HT de la DPGF indice 1 du lot 02 de l'entrepôt de Lestrac ?", DPGF_FILE,
          f"{money(total)} € HT ({money(total + vat)} € TTC)", "question_chiffree", [money(total)]),
    ]
    # fmt: on
    return {DPGF_FILE: text}, questions


# ------------------------------------------------------------------------------------------ test reports
CONCRETE_FILE = "rapport_essais_beton_24-017_GE-25-0117.md"
PLATE_FILE = "pv_compactage_25-088_GE-25-0162.txt"


def test_reports() -> tuple[dict[str, str], list[dict]]:
    rows = [
        "| Prélèvement | Coulage | Ouvrage | Classe | Rc 7 j (MPa) | Rc 28 j (MPa) | Conformité |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for sample, day, part, grade, rc7, rc28 in CONCRETE:
        verdict = "conforme" if Decimal(rc28) >= CONCRETE_TARGET else "non conforme"
        rows.append(f"| {sample} | {day} | {part} | {grade} | {fr(rc7)} | {fr(rc28)} | {verdict} |")
    concrete = f"""# Rapport d'essais n° GE-25-0117 — Résistance à la compression du béton

Laboratoire Géomat Estuaire, pour {COMPANY}. Affaire {POLE}, pôle enfance de Vaudrenne. Rapport du 25/03/2025.
Éprouvettes cylindriques 16 x 32 cm, 3 par échéance, conservées dans l'eau à 20 °C (NF EN 12390-2), écrasées selon
NF EN 12390-3. Critère retenu pour le C25/30 : moyenne à 28 jours supérieure ou égale à {fr(str(CONCRETE_TARGET))} MPa.

{chr(10).join(rows)}

## Conclusion

Le prélèvement P4 (voiles du RDC, façade sud) n'atteint pas le critère : 27,6 MPa à 28 jours. Nous recommandons le
carottage de 3 carottes dans le voile concerné avant toute décision sur l'ouvrage. Les autres prélèvements sont
conformes.
"""
    header = f"{'Point':<7}{'Localisation':<28}{'EV1 (MPa)':>10}{'EV2 (MPa)':>11}{'EV2/EV1':>9}   Résultat"
    table = [header, "-" * len(header)]
    for point, place, ev1, ev2 in PLATES:
        ratio = (Decimal(ev2) / Decimal(ev1)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        verdict = "conforme" if Decimal(ev2) >= 50 and ratio <= 2 else "NON CONFORME"
        table.append(f"{point:<7}{place:<28}{fr(ev1):>10}{fr(ev2):>11}{fr(str(ratio)):>9}   {verdict}")
    plate = f"""LABORATOIRE GÉOMAT ESTUAIRE
PROCÈS-VERBAL D'ESSAIS N° GE-25-0162 — ESSAIS DE CHARGEMENT À LA PLAQUE
Affaire {BASSIN} — bassin de stockage-restitution de Cazaillac — client de l'entreprise : CCCE
Date des essais : 06/10/2025 — Opérateur : Kévin Lartigau

Support testé : couche de forme en GNT 0/31,5 sous le radier du bassin, après rabattement de la nappe.
Méthode : NF P 94-117-1, plaque de 600 mm. Objectifs : EV2 >= 50 MPa et EV2/EV1 <= 2,0.

{chr(10).join(table)}

Avis : le point PL4 ne satisfait pas l'objectif de portance. Purge et substitution sur 30 cm autour du point, puis
nouvel essai, avant le coulage du béton de propreté.
"""
    # fmt: off
    questions = [
        q("Quelle résistance à 28 jours a donné le prélèvement P2 du pôle enfance de Vaudrenne ?", CONCRETE_FILE,
          "36,2 MPa (voiles RDC, façade nord, C25/30 XC4 ; 26,1 MPa à 7 jours)", "table", ["36,2"]),
        q("Quel prélèvement de béton du pôle enfance est non conforme, et que recommande le laboratoire ?",
          CONCRETE_FILE, "P4 (voiles RDC façade sud) : 27,6 MPa à 28 jours, sous le critère de 29,0 MPa ; carottage de "
          "3 carottes dans le voile", "autre", ["P4", "27,6", "carottage"]),
        q("Quel module EV2 a été mesuré au point PL4 du fond de fouille du bassin de Cazaillac ?", PLATE_FILE,
          "38,0 MPa, sous l'objectif de 50 MPa : non conforme", "table", ["38,0"]),
        q(f"Quel rapport EV2/EV1 a été obtenu au point PL2 lors des essais à la plaque de l'affaire {BASSIN} ?",
          PLATE_FILE, "1,87 (EV1 41,0 MPa, EV2 76,8 MPa), conforme", "table", ["1,87"]),
    ]
    # fmt: on
    return {CONCRETE_FILE: concrete, PLATE_FILE: plate}, questions


# ------------------------------------------------------------------------------------------ safety documents
PPSPS_FILE = "PPSPS_25-103_extrait.md"
SAFETY_FILE = "consigne_securite_25-088_fouille_bassin.txt"


def safety_documents() -> tuple[dict[str, str], list[dict]]:
    ppsps = f"""# PPSPS — Réhabilitation du quai Nord de Port-Merlin (affaire {QUAI}) — extrait

Plan particulier de sécurité et de protection de la santé de {COMPANY}, indice 2 du 28/04/2025.

## 1. Renseignements généraux

- Coordonnateur SPS (niveau 2) : M. Olivier Bramerie, Sécuriance Coordination, tél. 05 56 38 72 14.
- Responsable du chantier : Mme Nadia Bensaïd, conductrice de travaux ; sur site : M. Didier Escoubet.
- Effectif en pointe : 14 personnes, dont 4 du sous-traitant de plongée (Aquasub Travaux).
- Secours : centre hospitalier de Port-Merlin, à 6 km ; point de rencontre des secours devant la capitainerie.

## 2. Risques particuliers et mesures

| Risque | Mesures |
|---|---|
| Chute à l'eau, noyade | Gilet de sauvetage autogonflant de 150 N obligatoire à moins de 2 m du bord |
| Levage | Grue sur chenilles de 90 t ; levages arrêtés au-delà de 50 km/h de vent ; zone balisée sous la charge |
| Bruit du vibrofonçage | Protections auditives obligatoires dans un rayon de 50 m ; mesures de bruit hebdomadaires |
| Travaux subaquatiques | Plongeurs certifiés classe II mention B ; aucune plongée pendant un levage |

Une bouée couronne est installée tous les 30 m le long du quai, et une embarcation de secours armée est présente
pendant tous les travaux en pied de rideau.
"""
    safety = f"""{COMPANY.upper()} — CONSIGNE DE SÉCURITÉ
Affaire {BASSIN} — Bassin de Cazaillac — Travaux en fouille profonde
Diffusion : équipe de chantier, sous-traitants terrassement. Date : 05/09/2025.

1. La fouille du bassin atteint 4,20 m de profondeur. Toute tranchée de plus de 1,30 m de profondeur est blindée
   (caissons ou blindage coulissant) avant que quiconque y descende.
2. Talutage à 3/2 sur la partie haute des talus ; aucun stockage de déblais ni circulation d'engin à moins de 2 m
   du bord de la fouille.
3. Accès au fond de fouille uniquement par l'escalier d'accès installé côté rue du Lavoir : pas d'échelle volante.
4. Garde-corps de 1 m de hauteur en tête de fouille, sur tout le périmètre.
5. Pompage : deux pompes de 30 m³/h en service, une troisième en secours ; en cas d'arrêt du rabattement, évacuation
   immédiate du fond de fouille.
6. Chaque matin, le chef de chantier contrôle les blindages et consigne le contrôle dans le registre.

Visa : Manon Lachaize, conductrice de travaux ; {QSE}, responsable QSE.
"""
    # fmt: off
    questions = [
        q("Qui est Olivier Bramerie ?", PPSPS_FILE,
          f"Le coordonnateur SPS (niveau 2) du quai Nord de Port-Merlin (affaire {QUAI}), de Sécuriance "
          "Coordination, tél. 05 56 38 72 14", "fiche_identite",
          ["coordonnateur SPS", "Sécuriance Coordination", QUAI, "05 56 38 72 14"]),
        q("Quelle flottabilité doivent avoir les gilets de sauvetage sur le chantier du quai Nord ?", PPSPS_FILE,
          "150 N (gilet autogonflant), obligatoire à moins de 2 m du bord", "question_chiffree", ["150 N"]),
        q(f"Au-delà de quelle vitesse de vent les levages sont-ils arrêtés sur l'affaire {QUAI} ?", PPSPS_FILE,
          "50 km/h (grue sur chenilles de 90 t)", "question_chiffree", ["50 km/h"]),
        q(f"À partir de quelle profondeur une tranchée doit-elle être blindée sur l'affaire {BASSIN} ?", SAFETY_FILE,
          "Au-delà de 1,30 m de profondeur (la fouille du bassin atteint 4,20 m)", "question_chiffree", ["1,30 m"]),
        q("Comment accède-t-on au fond de fouille du bassin de Cazaillac ?", SAFETY_FILE,
          "Uniquement par l'escalier d'accès installé côté rue du Lavoir, pas d'échelle volante", "autre",
          ["escalier", "rue du Lavoir"]),
    ]
    # fmt: on
    return {PPSPS_FILE: ppsps, SAFETY_FILE: safety}, questions


# ------------------------------------------------------------------------------------------ norm, internal note
NORM_FILE = "synthese_NF_EN_206_CN_classes_exposition.md"
NOTE_FILE = "note_interne_NI-2025-11_achats.txt"


def reference_documents() -> tuple[dict[str, str], list[dict]]:
    header = ["Classe", "Environnement", "Eeff/liant max", "Liant min (kg/m³)", "Résistance min"]
    norm = f"""# Synthèse interne — NF EN 206/CN : classes d'exposition et exigences de composition

Document du service méthodes de {COMPANY}, révision 3 (janvier 2025). Il résume, pour les chantiers, les valeurs
limites applicables en France métropolitaine ; il ne remplace pas la norme.

## Exigences par classe d'exposition

{md_table(header, EXPOSURE, "llrr")}

## À retenir

- Un ouvrage relève souvent de plusieurs classes : on retient pour chaque paramètre l'exigence la plus sévère.
- Ouvrages portuaires en zone de marnage (poutres de couronnement, quais) : classe XS3.
- Le bon de livraison doit mentionner la classe d'exposition ; tout bon sans cette mention est refusé.
"""
    note = f"""{COMPANY.upper()}
NOTE INTERNE N° NI-2025-11
Objet : achats de chantier et bons de commande
Émetteur : {WORKS_DIRECTOR}, directrice de travaux
{HOME}, le 02/06/2025

1. Validation des commandes
   - jusqu'à 1 500 € HT : le conducteur de travaux signe seul ;
   - de 1 500 à 15 000 € HT : visa de la directrice de travaux ;
   - au-delà de 15 000 € HT : visa du président, {PRESIDENT}.

2. Mise en concurrence
   Au-delà de 4 000 € HT, trois fournisseurs au moins sont consultés et leurs offres jointes à la commande.

3. Saisie
   Toute commande est saisie dans l'ERP avant la livraison. Les factures sans numéro de commande sont renvoyées au
   fournisseur.

4. Location de matériel
   La fin de location est déclarée au loueur dans les 24 heures suivant la libération du matériel ; le bon de
   restitution est transmis à la comptabilité le jour même.
"""
    # fmt: off
    questions = [
        q("Selon la synthèse interne de la NF EN 206/CN, quel rapport Eeff/liant maximal s'applique en classe XS3 ?",
          NORM_FILE, "0,50 (liant minimal 350 kg/m³, résistance minimale C35/45)", "table", ["0,50"]),
        q("Quel dosage minimal en liant la synthèse NF EN 206/CN de BDE impose-t-elle en classe XS1 ?", NORM_FILE,
          "330 kg/m³ (Eeff/liant 0,55 au plus, C30/37 au minimum)", "table", ["330"]),
        q(f"Qui doit viser une commande de chantier de 8 000 € HT chez {COMPANY} ?", NOTE_FILE,
          f"La directrice de travaux ({WORKS_DIRECTOR}) : visa requis de 1 500 à 15 000 € HT", "autre",
          ["directrice de travaux"]),
        q(f"À partir de quel montant faut-il consulter trois fournisseurs chez {SHORT} ?", NOTE_FILE,
          "Au-delà de 4 000 € HT, offres jointes à la commande", "question_chiffree", ["4 000"]),
    ]
    # fmt: on
    return {NORM_FILE: norm, NOTE_FILE: note}, questions


# ------------------------------------------------------------------------------------------ client sheet, teams
CLIENT_FILE = "fiche_client_CC_Coeur_d_Estuaire.md"
TEAMS_FILE = "equipes_affaires_2025-07.md"


def people_documents() -> tuple[dict[str, str], list[dict]]:
    turnover = md_table(["Année", "Chiffre d'affaires HT", "Affaires"], CLIENT_TURNOVER, "lr")
    client = f"""# Fiche client — Communauté de communes Cœur d'Estuaire (CCCE)

## Identité

Établissement public de coopération intercommunale de 14 communes et 31 800 habitants. Siège : 2 place du Marché,
Cazaillac. Président : M. Bernard Sarrazy. Directrice générale des services : Mme Élodie Fourcade. Service
technique : M. Yvon Lacoste, responsable des travaux neufs.

## Relation avec {SHORT}

Client depuis 2016 (première commande : réfection des vestiaires du stade de Cazaillac). Commandes passées par
appel d'offres ou procédure adaptée ; paiement par mandat administratif à 30 jours.

{turnover}

Affaire en cours : {BASSIN}, bassin de stockage-restitution des eaux pluviales de Cazaillac.

## À savoir

Les réunions avec le service technique se tiennent le mardi matin. La CCCE exige un affichage de chantier bilingue
français-occitan sur ses opérations subventionnées par la Région.
"""
    team_header = ["Affaire", "Chantier", "Conducteur de travaux", "Chef de chantier", "Coordonnateur SPS"]
    teams = f"""# Équipes affectées aux affaires — mise à jour du 15/07/2025

{COMPANY}, direction des travaux.

{md_table(team_header, TEAMS)}

## Contacts de la direction et de la conduite de travaux

{md_table(["Nom", "Fonction", "Portable"], CONTACTS)}

Les chefs de chantier sont joignables par l'intermédiaire de leur conducteur de travaux.
"""
    # fmt: off
    questions = [
        q("Parle-moi du client Communauté de communes Cœur d'Estuaire.", CLIENT_FILE,
          "EPCI de 14 communes (31 800 habitants), siège à Cazaillac, président Bernard Sarrazy ; client depuis 2016 ; "
          f"affaire en cours : {BASSIN} (bassin de Cazaillac).", "fiche_identite",
          ["Cazaillac", "Bernard Sarrazy", "2016", BASSIN]),
        q(f"Quel chiffre d'affaires {COMPANY} a-t-elle réalisé avec la CCCE en 2023 ?", CLIENT_FILE,
          "655 000 € HT (gros œuvre du gymnase de Lestrac)", "table", ["655 000"]),
        q("Qui est Nadia Bensaïd ?", TEAMS_FILE,
          f"La conductrice de travaux de l'affaire {QUAI} (quai Nord de Port-Merlin), portable 06 62 08 31 57",
          "fiche_identite", ["conductrice de travaux", QUAI, "06 62 08 31 57"]),
        q(f"Qui est le coordonnateur SPS de l'opération {ENTREPOT} ?", TEAMS_FILE,
          "Luc Fabre-Sabatier (Atlas)", "table", ["Luc Fabre-Sabatier"]),
        q("Qui est le coordonnateur SPS du chantier du pôle enfance de Vaudrenne ?", TEAMS_FILE,
          "Claire Vidalenc, de Prévantis", "autre", ["Claire Vidalenc"]),
        q("Quel est le numéro de portable de Thibault Arnaudin ?", TEAMS_FILE,
          f"06 71 42 18 93 (conducteur de travaux de l'affaire {POLE})", "table", ["06 71 42 18 93"]),
    ]
    # fmt: on
    return {CLIENT_FILE: client, TEAMS_FILE: teams}, questions


# ------------------------------------------------------------------------------------------ unanswerable questions
# (question, kind, why, absent): each `absent` pattern is a regex that must match no document, or, as
# "FILE_PART::REGEX", no document whose name contains FILE_PART (checked by `check`).
# fmt: off
UNANSWERABLE: list[tuple[str, str, str, list[str]]] = [
    ("Quel est le montant de l'avenant n° 2 du marché du pôle enfance de Vaudrenne ?", "near_miss",
     "seul l'avenant n° 1 existe", [r"avenant n° ?2", r"avenant n° ?1 ?bis"]),
    (f"Qui est le coordonnateur SPS de l'affaire {BASSIN} ?", "near_miss",
     "la consigne de sécurité du bassin n'en nomme pas ; seuls ceux de 24-017, 25-103 et OP-2025-07 sont connus",
     ["25-088::SPS", "25-088::[Cc]oordonna", f"equipes::{BASSIN}"]),
    (f"Quel chiffre d'affaires {SHORT} a-t-elle réalisé avec la CCCE en 2021 ?", "near_miss",
     "la fiche client donne 2022, 2023 et 2024", ["fiche_client::2021"]),
    ("Présente-moi l'affaire 24-071.", "near_miss", "l'affaire 24-017 existe, pas 24-071", [r"24-071"]),
    ("Quel est le montant du marché de l'affaire 25-130 ?", "near_miss", "seule l'affaire 25-103 existe",
     [r"25-130"]),
    ("Quel est le numéro de portable de Didier Escoubet ?", "near_miss",
     "les portables des conducteurs de travaux sont donnés, pas ceux des chefs de chantier",
     [r"Escoubet[^\n]*0\d( \d\d){4}"]),
    ("Quel est le net à payer de la facture FA-25-00982 ?", "near_miss", "seule la facture FA-25-00981 existe",
     [r"00982"]),
    (f"Quel est le montant HT de l'indice C du devis {QUOTE} ?", "near_miss", "seuls les indices A et B existent",
     [r"DV_25-0312::indice C"]),
    ("Quelle résistance à 28 jours a donné le prélèvement P6 du pôle enfance de Vaudrenne ?", "near_miss",
     "le rapport compte les prélèvements P1 à P5", [r"\bP6\b"]),
    ("Parle-moi de l'opération OP-2025-08.", "near_miss", "seule l'opération OP-2025-07 existe", [r"OP-2025-08"]),
    (f"Quel était le taux de fréquence des accidents du travail chez {COMPANY} en 2024 ?", "hors_corpus", "",
     [r"taux de fréquence"]),
    ("Quel est le montant du marché de construction de la médiathèque de Port-Merlin ?", "hors_corpus", "",
     [r"médiathèque"]),
    (f"Quel est le capital social de {COMPANY} ?", "hors_corpus", "", [r"capital"]),
    (f"Qui est l'expert-comptable de {COMPANY} ?", "hors_corpus", "", [r"comptable"]),
    ("À quelle date la réception des travaux du quai Nord de Port-Merlin a-t-elle été prononcée ?", "hors_corpus",
     "", [r"25-103::réception"]),
    (f"Combien de salariés {COMPANY} emploie-t-elle au total ?", "hors_corpus", "", [r"salariés"]),
]
# fmt: on


def unanswerable_questions() -> list[dict]:
    return [
        {
            "question": text,
            "expected_source": None,
            "answer": f"{UNANSWERED[:-1]} : {why}." if why else UNANSWERED,
            "kind": kind,
            "key_facts": [],
        }
        for text, kind, why, _ in UNANSWERABLE
    ]


# ------------------------------------------------------------------------------------------ questions.yml, build
QUESTIONS_HEADER = f"""\
# Questions de référence du corpus RÉSERVÉ (held-out) généré par bench/heldout_corpus.py : entreprise fictive
# « {COMPANY} », documents d'un autre style que samples/corpus/. Jamais utilisé pour régler le produit.
# Schéma de samples/questions.yml :
# expected_source : nom du seul document qui contient la réponse (null si la réponse n'est pas dans le corpus).
# answer : réponse de référence courte.
# kind : question_chiffree | fiche_identite | version | table | autre ; sans réponse : near_miss (quelque chose de
#   proche existe) | hors_corpus.
# key_facts : chaînes qu'une bonne réponse doit contenir, comparées après normalisation des espaces, de la casse, des
#   accents et de la virgule décimale ; liste vide si la réponse n'est pas dans le corpus.
# stale_facts (questions « version ») : valeur remplacée, qu'une bonne réponse ne doit pas donner comme actuelle.
"""
FAMILIES = (
    affair_sheets,
    contract_documents,
    meeting_minutes,
    quote_versions,
    billing_documents,
    dpgf_document,
    test_reports,
    safety_documents,
    reference_documents,
    people_documents,
)


def questions_yaml(questions: list[dict]) -> str:
    def scalar(value: Any) -> str:
        return "null" if value is None else json.dumps(value, ensure_ascii=False)

    blocks = []
    for item in questions:
        lines = [f"- question: {scalar(item['question'])}"]
        for key, value in item.items():
            if key == "question":
                continue
            if isinstance(value, list):
                lines.append(f"  {key}: [{', '.join(scalar(v) for v in value)}]")
            elif key == "kind":
                lines.append(f"  kind: {value}")
            else:
                lines.append(f"  {key}: {scalar(value)}")
        blocks.append("\n".join(lines))
    return QUESTIONS_HEADER + "\n" + "\n\n".join(blocks) + "\n"


def build(root: Path) -> list[dict]:
    """Write the documents into `root/documents` and `questions.yml` into `root`; returns the questions."""
    out = root / DOCUMENTS
    out.mkdir(parents=True, exist_ok=True)
    documents: dict[str, str] = {}
    questions: list[dict] = []
    for family in FAMILIES:
        docs, family_questions = family()
        if set(docs) & set(documents):
            raise RuntimeError(f"two documents named {sorted(set(docs) & set(documents))}")
        documents.update(docs)
        questions += family_questions
    questions += unanswerable_questions()
    for name in sorted(documents):
        (out / name).write_text(documents[name], encoding="utf-8", newline="\n")
    (root / "questions.yml").write_text(questions_yaml(questions), encoding="utf-8", newline="\n")
    return questions


# ------------------------------------------------------------------------------------------ the self-check
KINDS = {"question_chiffree", "fiche_identite", "version", "table", "autre", "near_miss", "hors_corpus"}


def check(out_dir: Path) -> Counter:
    """Assert the written corpus is consistent with its questions; returns the count of questions per kind."""
    import yaml  # noqa: PLC0415 (PyYAML: only the check reads the file back)

    folder = out_dir / DOCUMENTS
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}
    assert all(name.endswith((".md", ".txt")) for name in texts), sorted(texts)
    assert len(texts) >= 15, f"{len(texts)} documents"
    rows = yaml.safe_load((out_dir / "questions.yml").read_text(encoding="utf-8"))
    assert len(rows) >= 60, f"{len(rows)} questions"
    assert len({r["question"] for r in rows}) == len(rows), "a question is asked twice"
    problems = []
    for row in rows:
        assert set(row) <= {"question", "expected_source", "answer", "kind", "key_facts", "stale_facts"}, row
        assert row["kind"] in KINDS, row
        source, facts = row["expected_source"], row["key_facts"]
        if source is None:
            assert facts == [], row
            assert row["kind"] in {"near_miss", "hors_corpus"}, row
            continue
        assert row["kind"] not in {"near_miss", "hors_corpus"}, row
        assert source in texts, f"{source} is not a document"
        assert facts, row
        problems += [f"{source}: key fact {f!r} missing" for f in facts if not contains(texts[source], f)]
        if row["kind"] == "version":
            assert row.get("stale_facts"), row
            for stale in row["stale_facts"]:
                if not any(contains(t, stale) for t in texts.values()):
                    problems.append(f"stale fact {stale!r} is in no document")
                if any(contains(stale, f) or contains(f, stale) for f in facts):
                    problems.append(f"stale fact {stale!r} overlaps a key fact {facts}")
    for text, _, _, absent in UNANSWERABLE:
        for pattern in absent:
            part, _, regex = pattern.rpartition("::")
            hits = [n for n, t in texts.items() if part in n and re.search(regex, t)]
            if hits:
                problems.append(f"{text!r}: {regex!r} found in {hits}")
    assert not problems, "\n".join(problems)
    kinds = Counter(r["kind"] for r in rows)
    unanswerable = kinds["near_miss"] + kinds["hors_corpus"]
    assert unanswerable >= 12, kinds
    assert 2 * kinds["near_miss"] >= unanswerable, kinds
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="the folder to write (created if missing)")
    args = parser.parse_args()
    questions = build(args.out_dir)
    kinds = check(args.out_dir)
    files = sorted(p.name for p in (args.out_dir / DOCUMENTS).iterdir())
    print(f"{len(files)} documents in {args.out_dir / DOCUMENTS}, {len(questions)} questions, check passed")
    for kind in sorted(kinds):
        print(f"  {kind:<18} {kinds[kind]}")


if __name__ == "__main__":
    sys.exit(main())
