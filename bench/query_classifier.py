"""
Accuracy of `QueryClassifier` on French questions labelled by their interrogative form (PIAF by default).

    .venv/bin/python bench/query_classifier.py ../shared/bench/piaf-v1.1 --max-queries 1000

Reference labels, independent of the classifier's own rules: a question is `question_chiffree` when it *opens*
with an interrogative form that asks for a figure ("Combien", "À combien", "En quelle année", "Quand", "Quel âge",
"Quel est le nombre / montant / prix / taux / pourcentage", "Quelle est la population / superficie / durée"...),
`autre` otherwise; PIAF has no profile questions in the product's sense, so `fiche_identite` predictions count as
`autre` in the two-class accuracy. A second view labels a question a figure question when its reference answer
holds a digit (`answers.jsonl`), which also catches figure questions worded in other ways.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.classifiers import QueryClassifier
from components.french_analysis import plain

_FIGURE_OPENINGS = re.compile(
    r"^(?:et |mais )?(?:"
    r"(?:a |de |pour |en |sur |jusqu'a )?combien"
    r"|(?:en |a partir de |depuis |dans |vers |jusqu'en |pendant |de )?quelles? (?:annee|date|siecle|mois|decennie)s?"
    r"|(?:en |a |de |au |dans |vers |depuis )?quels? (?:annee|siecle|mois|jour|age)s?"
    r"|(?:depuis |jusqu'a |de |a partir de )?quand"
    r"|quel(?:le)?s? (?:est|sont|etait|etaient|fut|a ete) (?:le |la |les |l')?(?:nombre|montant|prix|cout|budget"
    r"|pourcentage|taux|part|proportion|population|superficie|surface|taille|longueur|hauteur|altitude|duree|age"
    r"|date|annee|somme|chiffre|effectif|distance|vitesse|temperature|profondeur|poids|capacite|valeur)s?\b"
    r"|quel(?:le)?s? (?:nombre|montant|prix|cout|pourcentage|taux|proportion|quantite|somme|superficie|surface"
    r"|taille|longueur|hauteur|duree|distance|age)s?\b"
    r")"
)


def reference_label(question: str) -> str:
    text = " ".join(plain(question).split())
    return "question_chiffree" if _FIGURE_OPENINGS.match(text) else "autre"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--max-queries", type=int, default=None)
    args = parser.parse_args()
    queries = [json.loads(line) for line in (args.dataset / "queries.jsonl").open(encoding="utf-8")]
    queries = queries[: args.max_queries] if args.max_queries else queries
    answers_file = args.dataset / "answers.jsonl"
    answers = {}
    if answers_file.is_file():
        answers = {a["_id"]: a["answers"] for a in map(json.loads, answers_file.open(encoding="utf-8"))}
    classifier = QueryClassifier()
    confusion: Counter[tuple[str, str]] = Counter()
    by_answer: Counter[tuple[bool, bool]] = Counter()
    for query in queries:
        predicted = classifier.run(query=query["text"])["query_class"]
        confusion[(reference_label(query["text"]), predicted)] += 1
        if query["_id"] in answers:
            has_digit = any(re.search(r"\d", a) for a in answers[query["_id"]])
            by_answer[(has_digit, predicted == "question_chiffree")] += 1
    total = sum(confusion.values())
    right = sum(
        n for (ref, pred), n in confusion.items() if (ref == "question_chiffree") == (pred == "question_chiffree")
    )
    print(f"{total} questions; reference labels by interrogative form: {Counter(r for r, _ in confusion.elements())}")
    print(f"two-class accuracy (question_chiffree vs the rest): {right / total:.3f}")
    ref_fig = sum(n for (ref, _), n in confusion.items() if ref == "question_chiffree")
    tp = confusion[("question_chiffree", "question_chiffree")]
    pred_fig = sum(n for (_, pred), n in confusion.items() if pred == "question_chiffree")
    print(f"question_chiffree: recall {tp / max(ref_fig, 1):.3f}, precision {tp / max(pred_fig, 1):.3f}")
    print("confusion (reference -> predicted):")
    for (ref, pred), n in sorted(confusion.items()):
        print(f"  {ref:<18} -> {pred:<18} {n}")
    if by_answer:
        n = sum(by_answer.values())
        agree = by_answer[(True, True)] + by_answer[(False, False)]
        digit = by_answer[(True, True)] + by_answer[(True, False)]
        no_digit = by_answer[(False, True)] + by_answer[(False, False)]
        print(
            f"answer holds a digit vs predicted question_chiffree: agreement {agree / n:.3f} "
            f"(digit answers predicted figure: {by_answer[(True, True)]}/{digit}, "
            f"non-digit answers predicted figure: {by_answer[(False, True)]}/{no_digit})"
        )


if __name__ == "__main__":
    main()
