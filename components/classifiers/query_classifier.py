"""Classify a French question by what it asks for, so that ranking and the prompt can follow."""

from __future__ import annotations

import re
from typing import Any

from haystack import component

from components.french_analysis import plain
from components.inline_async import runs_inline

FIGURE = "question_chiffree"
PROFILE = "fiche_identite"
OTHER = "autre"
QUERY_CLASSES = (FIGURE, PROFILE, OTHER)

# Words naming a quantity: "quel est le montant", "le chiffre d'affaires de ...", "quel pourcentage".
_QUANTITY_NOUNS = (
    r"montants?|sommes?|totaux|total|prix|couts?|budgets?|tarifs?|chiffres? d'affaires|ca|effectifs?|nombres?"
    r"|pourcentages?|taux|parts?|proportions?|quantites?|volumes?|surfaces?|superficies?|longueurs?|largeurs?"
    r"|hauteurs?|profondeurs?|epaisseurs?|distances?|poids|masses?|durees?|delais?|ages?|dates?|annees?|population"
    r"|salaires?|valeurs?|dimensions?|capacites?|consommations?|vitesses?|temperatures?|altitudes?|tonnages?"
    r"|metrages?|effectif|penalites?|remises?|acomptes?|mois|siecles?|decennies?|jours?|heures?|frais|depenses?"
    r"|recettes?|benefices?|pertes?|dettes?|chiffres?|numeros?|millions?|milliards?"
)
_FIGURE_PATTERNS = [
    r"\bcombien\b",
    r"\b(?:en|a|a partir de|depuis|jusqu'en|vers|pour|de|dans|avant|apres) quel(?:le)?s? "
    r"(?:annee|date|siecle|mois|age|epoque|an|decennie|jour|heure|montant|prix|hauteur|altitude|vitesse|taux)\b",
    r"\bquel(?:le)?s? (?:annee|date|siecle|age|pourcentage|proportion|quantite|somme|taille|superficie|surface"
    r"|longueur|hauteur|duree|distance|frequence|temperature)\b",
    r"\bquand\b",
    r"\bdepuis quand\b",
    r"\bde quand\b",
    r"\bquel(?:le)?s? (?:est|sont|etait|etaient|sera|fut|a ete)? ?(?:le |la |les |l')?(?:" + _QUANTITY_NOUNS + r")\b",
    r"^(?:le |la |les |l')?(?:" + _QUANTITY_NOUNS + r")\b.*\?\s*$",
    r"\b(?:a hauteur de|pour quel montant|a quel prix|a combien)\b",
]
# The profile of a client, a project, a site or a company: "qui est X", "présente l'affaire A2458", "fiche".
_PROFILE_ENTITIES = (
    r"client|maitre d'ouvrage|maitrise d'ouvrage|moa|moe|entreprise|societe|groupe|sous-traitant|fournisseur"
    r"|partenaire|affaire|projet|chantier|operation|site|commune|ville|marche|organisme|etablissement|association"
    r"|collectivite|agence|filiale"
)
# "Qui est Jean Dupont ?", "Qui est le client ?", "Qui est le Conseil départemental ?" ask for a profile; "Qui est le
# fondateur de X ?" asks for a name.
_WHO_IS = re.compile(
    r"^\s*[Qq]ui (?:est|sont|était|étaient|etait|etaient) (?:le |la |les |l'|l’)?(?:[A-ZÉÈÀÂ]|(?:"
    + _PROFILE_ENTITIES
    + r")\b)"
)
_PROFILE_PATTERNS = [
    # « fiche affaire A2458 » asks for a profile; « selon la fiche NF P 98-331, quels objectifs… » names a source
    r"(?<!selon la )(?<!apres la )(?<!dans la )\bfiche(?: d'identite| signaletique)?\b",
    r"\bprofil\b",
    r"\bpresente[rz]?(?:-moi|-nous)?\b",
    r"\bpresentation (?:de|du|des|d')\b",
    r"\b(?:parle|parlez)(?:-moi|-nous)? (?:de|du|des|d')\b",
    r"\b(?:que sais-tu|que savez-vous|qu'est-ce qu'on sait) (?:de|du|des|sur|d')\b",
    r"\b(?:informations?|renseignements?|carte d'identite) (?:sur|de|du|des|concernant|d')\b",
    r"\b(?:decris|decrivez|decrire)(?:-moi)? (?:le |la |l'|les )?(?:" + _PROFILE_ENTITIES + r")\b",
    r"^(?:qu'est-ce que|qu'est ce que|c'est quoi|qu'est-ce qu'|que fait) (?:le |la |l'|les )?(?:"
    + _PROFILE_ENTITIES
    + r")\b",
    r"^(?:le |la |l'|les )?(?:" + _PROFILE_ENTITIES + r") [^?]{0,40}\?\s*$",
]


@component
@runs_inline
class QueryClassifier:
    """
    Labels a French question `question_chiffree` (asks for a figure: amount, headcount, turnover, date, quantity,
    percentage), `fiche_identite` (asks for the profile of a client, project, site or company) or `autre`.

    Rule-based: regular expressions over the accent-folded question. A question asking for a figure wins over
    a profile ("Quel est le chiffre d'affaires du client X ?" is a figure).
    """

    def __init__(self, default_class: str = OTHER) -> None:
        """
        :param default_class: The class of a question no rule recognises.
        """
        if default_class not in QUERY_CLASSES:
            raise ValueError(f"default_class must be one of {', '.join(QUERY_CLASSES)}, got {default_class!r}")
        self.default_class = default_class
        self._figure = [re.compile(p) for p in _FIGURE_PATTERNS]
        self._profile = [re.compile(p) for p in _PROFILE_PATTERNS]

    @component.output_types(query_class=str)
    def run(self, query: str) -> dict[str, Any]:
        """
        :param query: The question, in French.
        :returns: `query_class`, one of `question_chiffree`, `fiche_identite`, `autre`.
        """
        text = " ".join(plain(query).split())
        if any(p.search(text) for p in self._figure):
            return {"query_class": FIGURE}
        if _WHO_IS.search(query) or any(p.search(text) for p in self._profile):
            return {"query_class": PROFILE}
        return {"query_class": self.default_class}
