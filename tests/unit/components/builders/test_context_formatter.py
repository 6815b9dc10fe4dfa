import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.builders.context_formatter import ContextFormatter, strip_markup
from service.settings import load_settings

pytestmark = pytest.mark.unit

TYPE = "components.builders.context_formatter.ContextFormatter"
# The local LLM's tokenizer, the one `make setup` installs (generation.tokenizer: null resolves to it).
QWEN_TOKENIZER = load_settings().resolve_path(load_settings().generation.tokenizer)


def _doc(source: str, text: str = "Texte.", score: float = 0.5, **meta) -> Document:
    return Document(content=text, meta={"source": source, **meta}, score=score)


def test_the_query_classes_named_must_exist():
    with pytest.raises(ValueError, match="chiffres"):
        ContextFormatter(key_lines_only=["chiffres"])


def test_to_dict_and_from_dict():
    data = component_to_dict(ContextFormatter(max_docs=3, tokenizer=None), "context_formatter")
    assert data == {
        "type": TYPE,
        "init_parameters": {
            "max_docs": 3,
            "max_chunks_per_source": 2,
            "max_tokens_per_doc": 400,
            "tokenizer": None,
            "strip_markup": True,
            "key_lines": 0,
            "key_lines_only": [],
            "key_rows_as_fields": False,
            "key_cells": False,
            "versions": False,
            "version_markers": None,
        },
    }
    assert component_from_dict(ContextFormatter, data, "context_formatter").max_docs == 3


def test_init_refuses_zero_limits():
    with pytest.raises(ValueError, match="at least 1"):
        ContextFormatter(max_docs=0)


def test_blocks_are_numbered_with_the_metadata():
    doc = _doc(
        "a.md",
        "Le montant est de 3 €.",
        0.873,
        title="Facture",
        theme="finance",
        document_type="facture",
        publish_date="2025-03-01",
        section_path=["Montants", "Total"],
    )
    out = ContextFormatter().run(documents=[doc, _doc("b.md", score=None)])
    first, second = out["context"].split("\n\n")
    # No `Field : value | …` header line and no score: the small models copied them into their answers.
    assert first == "[1] Facture — Montants > Total (2025-03-01)\nLe montant est de 3 €."
    assert second == "[2] b.md\nTexte."
    assert [d.meta["source"] for d in out["documents"]] == ["a.md", "b.md"]


def test_limits_per_source_and_documents_keep_the_ranked_order():
    docs = [_doc("a"), _doc("a"), _doc("a"), _doc("b"), _doc("c"), _doc("b")]
    out = ContextFormatter(max_docs=2, max_chunks_per_source=2).run(documents=docs)
    assert [d.meta["source"] for d in out["documents"]] == ["a", "a", "b", "b"]


def test_inputs_are_not_mutated_and_markup_is_stripped():
    doc = _doc("a", "## Titre\n\n**Montant** : [voir](http://x) <b>3 €</b>\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    (shown,) = ContextFormatter().run(documents=[doc])["documents"]
    assert doc.content.startswith("## Titre")
    # A table stays a Markdown table: its separator row is kept (clients render it, the model reads its columns).
    assert shown.content == "Titre\n\nMontant : voir 3 €\n\n| a | b |\n|---|---|\n| 1 | 2 |"


@pytest.mark.skipif(not (QWEN_TOKENIZER / "tokenizer.json").is_file(), reason="needs `make setup` (LLM tokenizer)")
def test_token_budget_is_counted_with_the_real_tokenizer_and_shared_by_a_document():
    from components.builders.token_budget import TokenBudget

    words = " ".join(f"mot{i}" for i in range(300))
    formatter = ContextFormatter(max_tokens_per_doc=50, tokenizer=str(QWEN_TOKENIZER))
    out = formatter.run(documents=[_doc("a", words), _doc("a", "encore"), _doc("b", "court")])
    first = out["documents"][0].content
    assert first.endswith(" […]")
    assert TokenBudget(str(QWEN_TOKENIZER)).count(first.removesuffix(" […]")) <= 50
    assert [d.meta["source"] for d in out["documents"]] == ["a", "b"]  # a's budget is spent


def test_a_passage_seen_before_is_shown_the_same_whatever_budget_is_left():
    from components.builders.token_budget import TokenBudget

    budget = TokenBudget(str(QWEN_TOKENIZER))
    words = " ".join(f"mot{i}" for i in range(50))  # ~150 tokens
    short = "Le **délai** du chantier A2458 est de 12 semaines."
    assert budget.fit(short, 50) == (short, False, budget.count(short))  # one encoding gives the count too
    formatter = ContextFormatter(max_tokens_per_doc=200, max_chunks_per_source=3, tokenizer=str(QWEN_TOKENIZER))
    alone = formatter.run(documents=[_doc("a", words)])["documents"]
    assert alone[0].content == words  # fits in 200 tokens
    # The same passage after another one of its document: less budget left, so now it is cut.
    after = formatter.run(documents=[_doc("a", words + " fin"), _doc("a", words)])["documents"]
    assert after[1].content.endswith(" […]")
    assert budget.count(after[1].content.removesuffix(" […]")) <= 200 - budget.count(words + " fin")
    assert formatter.run(documents=[_doc("a", words)])["documents"][0].content == words  # and whole again alone


def test_strip_markup_keeps_figures():
    assert strip_markup("*Prix* : 1 250,00 € HT<br>") == "Prix : 1 250,00 € HT"


def test_no_context_when_the_passages_cannot_answer():
    doc = _doc("a", "Le montant de l'avenant n° 1 est de 18 750 € HT.", title="Avenant Bréchy")
    refused = ContextFormatter().run(documents=[doc], answerable=False)
    assert "context" not in refused
    assert [d.content for d in refused["documents"]] == [doc.content]  # still the sources that were searched
    out = ContextFormatter().run(documents=[doc])
    assert out["context"].startswith("[1]")
    assert ContextFormatter().run(documents=[]) == {"documents": [], "key_lines": []}


def test_key_lines_put_the_rows_that_hold_the_question_first_under_their_header():
    table = (
        "| N° | Désignation | PU HT (€) |\n|---|---|---:|\n| 5 | GNT 0/31,5 fondation | 24,50 |\n"
        "| 7 | BB 0/10 ép. 5 cm, couche de roulement | 15,20 |"
    )
    doc = _doc("devis.md", table, title="Devis D2025-087")
    out = ContextFormatter(key_lines=1).run(documents=[doc], query="Quel prix pour la couche de roulement ?")
    key, _, blocks = out["context"].partition("\n\n")
    assert key == (
        "Passages clés :\n[1] | N° | Désignation | PU HT (€) |\n"
        "    | 7 | BB 0/10 ép. 5 cm, couche de roulement | 15,20 |"
    )
    assert blocks.startswith("[1] Devis D2025-087\n| N° |")
    assert "Passages clés" not in ContextFormatter().run(documents=[doc], query="couche de roulement")["context"]


def test_key_lines_alone_for_the_classes_that_ask_for_it():
    table = "| Désignation | Montant HT (€) |\n|---|---:|\n| Total HT | 38 935,00 |\n| Total TTC | 46 722,00 |"
    doc = _doc("devis.md", table, title="Devis D2025-087")
    formatter = ContextFormatter(key_lines=2, key_lines_only=["question_chiffree"])
    question = "Quel est le montant TTC du devis ?"
    alone = formatter.run(documents=[doc], query=question, query_class="question_chiffree")["context"]
    assert alone == "Passages clés :\n[1] | Désignation | Montant HT (€) |\n    | Total TTC | 46 722,00 |"
    whole = formatter.run(documents=[doc], query=question, query_class="autre")["context"]
    assert whole.startswith("Passages clés :")
    assert "[1] Devis D2025-087" in whole


def test_a_key_table_row_can_be_shown_as_column_value_pairs():
    table = (
        "| N° | Désignation | PU HT (€) |\n|---|---|---:|\n| 5 | GNT 0/31,5 fondation | 24,50 |\n"
        "| 7 | **BB 0/10** ép. 5 cm, couche de roulement | 15,20 |\n| | Total | |"
    )
    doc = _doc("devis.md", table, title="Devis D2025-087")
    formatter = ContextFormatter(key_lines=1, key_rows_as_fields=True)
    key, _, blocks = formatter.run(documents=[doc], query="Quel prix pour la couche de roulement ?")[
        "context"
    ].partition("\n\n")
    row = "N° : 7 ; Désignation : BB 0/10 ép. 5 cm, couche de roulement ; PU HT (€) : 15,20"
    assert key == f"Passages clés :\n[1] {row}"
    assert "| 7 | BB 0/10" in blocks  # the passage itself keeps its table


def test_key_lines_alone_are_read_in_every_passage_of_the_shown_documents():
    passages = [
        _doc("cr.md", "Présents : M. Lebrun, Mme Garnier.", title="CR de chantier n° 4"),
        _doc("cr.md", "Avancement : purges terminées le 3 octobre.", title="CR de chantier n° 4"),
        _doc("cr.md", "Prochaine réunion de chantier : mercredi 15 octobre 2025 à 9 h.", title="CR de chantier n° 4"),
        _doc("planning.md", "Réunion de lancement le 1er septembre 2025.", title="Planning"),
    ]
    formatter = ContextFormatter(max_docs=1, max_chunks_per_source=2, key_lines=2, key_lines_only=["question_chiffree"])
    question = "Quand est prévue la prochaine réunion de chantier ?"
    alone = formatter.run(documents=passages, query=question, query_class="question_chiffree")
    assert "[3] Prochaine réunion de chantier : mercredi 15 octobre 2025 à 9 h." in alone["context"]
    assert [d.content for d in alone["documents"]] == [p.content for p in passages[:3]]  # [3] is the third
    whole = formatter.run(documents=passages, query=question, query_class="autre")
    key, _, blocks = whole["context"].partition("\n\n")
    # whole passages: max_chunks_per_source; the key line of the third passage comes as [3], after the blocks
    assert "[3] Prochaine réunion de chantier : mercredi 15 octobre 2025 à 9 h." in key
    assert "15 octobre" not in blocks
    assert "[3]" not in blocks
    assert [d.content for d in whole["documents"]] == [p.content for p in passages[:3]]


def test_a_key_line_a_block_shows_keeps_the_blocks_number():
    passages = [
        _doc("cr.md", "Présents : M. Lebrun.\nProchaine réunion de chantier : mercredi 15 octobre.", title="CR n° 4"),
        _doc("cr.md", "Avancement : purges terminées le 3 octobre.", title="CR n° 4"),
    ]
    formatter = ContextFormatter(max_docs=1, key_lines=1)
    out = formatter.run(documents=passages, query="Quand est prévue la prochaine réunion de chantier ?")
    assert out["context"].startswith("Passages clés :\n[1] Prochaine réunion de chantier : mercredi 15 octobre.")
    assert len(out["documents"]) == 2


def test_a_question_on_one_tax_base_has_no_key_line_on_the_other_only():
    table = (
        "| N° prix | Désignation | Montant HT (€) |\n|---|---|---:|\n| 1 | Rabotage | 120 000,00 |\n"
        "| | Total HT | 631 592,50 |\n| | TVA 20 % | 126 318,50 |\n| | Total TTC | 757 911,00 |"
    )
    doc = _doc("fiche.md", table, title="Fiche affaire A2458")
    formatter = ContextFormatter(key_lines=3)
    lines = [
        k["line"] for k in formatter.run(documents=[doc], query="Montant total HT de l'affaire A2458 ?")["key_lines"]
    ]
    assert "| | Total HT | 631 592,50 |" in lines
    assert "| | Total TTC | 757 911,00 |" not in lines
    ttc = [
        k["line"] for k in formatter.run(documents=[doc], query="Montant total TTC de l'affaire A2458 ?")["key_lines"]
    ]
    assert ttc[0] == "| | Total TTC | 757 911,00 |"
    assert "| | Total HT | 631 592,50 |" not in ttc
    both = [k["line"] for k in formatter.run(documents=[doc], query="Montant total de l'affaire A2458 ?")["key_lines"]]
    assert {"| | Total HT | 631 592,50 |", "| | Total TTC | 757 911,00 |"} <= set(both)


def test_a_reference_in_several_words_weighs_as_one_term():
    text = (
        "- Référence : NF P 98-331, « Chaussées et dépendances – Tranchées ».\n"
        "- Édition : février 2005 ; elle remplace l'édition de septembre 1994.\n"
        "- Domaine : ouverture de fouilles et remblayage."
    )
    doc = _doc("norme.md", text, title="Fiche de synthèse – Norme NF P 98-331")
    key_lines = ContextFormatter(key_lines=2).run(documents=[doc], query="NF P 98-331 édition")["key_lines"]
    assert key_lines[0]["line"].startswith("- Édition : février 2005")


def test_a_line_overlapping_passages_repeat_is_a_key_line_once():
    first = _doc("fiche.md", "- Montant du marché : 498 760,00 € HT.\n- Lot unique.", title="Fiche affaire B1037")
    overlap = _doc("fiche.md", "- Montant du marché : 498 760,00 € HT.", title="Fiche affaire B1037")
    out = ContextFormatter(key_lines=3).run(documents=[first, overlap], query="B1037 montant du marché")
    assert [k["line"] for k in out["key_lines"]] == ["- Montant du marché : 498 760,00 € HT."]


EXPOSURE = (
    "| Classe | Environnement | Eeff/liant max | Liant min (kg/m³) | Résistance min |\n|---|---|---|---|---|\n"
    "| XS1 | Air véhiculant du sel marin | 0,55 | 330 | C30/37 |\n"
    "| XS3 | Zones de marnage | 0,50 | 350 | C35/45 |"
)


@pytest.mark.parametrize(
    ("question", "cells"),
    [
        ("Quel rapport Eeff/liant maximal en classe XS3 ?", "XS3 ; Eeff/liant max : 0,50"),
        ("Quel dosage minimal en liant faut-il en classe XS1 ?", "XS1 ; Liant min (kg/m³) : 330"),
        ("Quelle résistance minimale en classe XS3 ?", "XS3 ; Résistance min : C35/45"),
    ],
)
def test_a_key_row_shows_first_the_cells_its_header_says_the_question_asks_for(question, cells):
    doc = _doc("synthese.md", EXPOSURE, title="Classes d'exposition")
    key = ContextFormatter(key_lines=1, key_cells=True).run(documents=[doc], query=question)["context"]
    first = key.split("\n")[1]
    assert first == f"[1] {cells}"
    assert "| Classe | Environnement |" in key.split("\n")[2]  # the row itself follows, under its header


def test_no_cells_when_the_header_names_none_of_the_question_s_words():
    doc = _doc("synthese.md", EXPOSURE, title="Classes d'exposition")
    formatter = ContextFormatter(key_lines=1, key_cells=True)
    for question in ("Que dit la classe XS3 pour le marnage ?",):
        context = formatter.run(documents=[doc], query=question)["context"]
        assert "[1] | Classe |" in context  # the key row, as before
        assert "XS3 ; " not in context  # no column asked for, or every one: no cells
    plain = ContextFormatter(key_lines=1).run(documents=[doc], query="Quel rapport Eeff/liant maximal en XS3 ?")
    assert "XS3 ; Eeff" not in plain["context"]  # off unless asked
