import re

import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage

from components.builders import CitedAnswerBuilder
from components.builders.statement_citer import NOT_IN_DOCUMENTS

pytestmark = pytest.mark.unit

TYPE = "components.builders.cited_answer_builder.CitedAnswerBuilder"


def _passages(count: int) -> list[Document]:
    return [
        Document(content=f"Passage numéro {i}", meta={"title": f"Titre {i}"}, score=1.0 / i)
        for i in range(1, count + 1)
    ]


def _run(text: str, documents: list[Document] | None = None, **init) -> dict:
    """The citation numbers as written, checked only against the passage count (`cite_statements` off)."""
    documents = _passages(3) if documents is None else documents
    init.setdefault("cite_statements", False)
    return CitedAnswerBuilder(**init).run(replies=[ChatMessage.from_assistant(text)], documents=documents)


def _cited(result: dict) -> set[int]:
    return {source["number"] for source in result["sources"] if source["cited"]}


def test_init():
    assert CitedAnswerBuilder().include_passage_text is True
    assert CitedAnswerBuilder(include_passage_text=False).include_passage_text is False


def test_to_dict():
    data = component_to_dict(CitedAnswerBuilder(include_passage_text=False, max_citations=2), "answer_builder")
    assert data == {
        "type": TYPE,
        "init_parameters": {
            "include_passage_text": False,
            "cite_statements": True,
            "min_overlap": 0.5,
            "min_overlap_with_figures": 0.25,
            "max_citations": 2,
            "min_relative_support": 0.0,
            "ground_figures": True,
        },
    }


def test_from_dict():
    data = {"type": TYPE, "init_parameters": {"include_passage_text": False}}
    assert component_from_dict(CitedAnswerBuilder, data, "answer_builder").include_passage_text is False


@pytest.mark.parametrize(
    ("text", "answer", "cited"),
    [
        ("Le délai est de 3 mois [1].", "Le délai est de 3 mois [1].", {1}),
        ("Le délai est de 3 mois [1, 3].", "Le délai est de 3 mois [1][3].", {1, 3}),
        ("Le délai est de 3 mois [1-2].", "Le délai est de 3 mois [1][2].", {1, 2}),
        ("Le délai est de 3 mois [1][2].", "Le délai est de 3 mois [1][2].", {1, 2}),
        ("Le délai est de 3 mois [3; 1].", "Le délai est de 3 mois [3][1].", {1, 3}),
        ("Réponse sans citation.", "Réponse sans citation.", set()),
    ],
)
def test_run_parses_citation_forms(text, answer, cited):
    result = _run(text)
    assert result["answer"] == answer
    assert _cited(result) == cited
    assert result["invalid_citations"] == []


@pytest.mark.parametrize(
    ("text", "answer", "cited", "invalid"),
    [
        ("Le délai est de 3 mois [2][7].", "Le délai est de 3 mois [2].", {2}, [7]),
        ("Le délai est de 3 mois [1, 9].", "Le délai est de 3 mois [1].", {1}, [9]),
        ("Le délai est de 3 mois [9].", "Le délai est de 3 mois.", set(), [9]),
        ("Le délai est de 3 mois [0].", "Le délai est de 3 mois.", set(), [0]),
        ("Le délai est de 3 mois [2-5].", "Le délai est de 3 mois [2][3].", {2, 3}, [4, 5]),
        ("Voir [8][8][4].", "Voir.", set(), [4, 8]),
    ],
)
def test_run_removes_citations_beyond_the_passages(text, answer, cited, invalid):
    result = _run(text)
    assert result["answer"] == answer
    assert _cited(result) == cited
    assert result["invalid_citations"] == invalid


def test_run_with_no_passages_invalidates_every_citation():
    result = _run("Réponse [1].", documents=[])
    assert result == {
        "answer": "Réponse.",
        "thinking": "",
        "sources": [],
        "invalid_citations": [1],
        "unsupported": [],
        "left_out": [],
    }


def test_run_numbers_sources_from_one_in_input_order():
    passages = _passages(4)
    result = _run("Voir [3] puis [1].", documents=passages)
    assert [s["number"] for s in result["sources"]] == [1, 2, 3, 4]
    assert [s["id"] for s in result["sources"]] == [p.id for p in passages]
    assert [s["score"] for s in result["sources"]] == [p.score for p in passages]
    assert [s["cited"] for s in result["sources"]] == [True, False, True, False]


def test_run_copies_source_meta_fields():
    meta = {
        "title": "CCTP lot 2",
        "source": "affaires/A2458/cctp.md",
        "theme": "voirie",
        "document_type": "CCTP",
        "publish_date": "2024-03-01",
        "code_affaire": "A2458",
        "client": "Commune de Lyon",
    }
    passage = Document(content="Texte", meta={**meta, "file_path": "/tmp/x.md", "has_key_metadata": True})
    (source,) = _run("Oui [1].", documents=[passage])["sources"]
    assert {k: source[k] for k in meta} == meta
    assert "file_path" not in source
    assert "has_key_metadata" not in source


def test_run_includes_passage_text_by_default():
    passages = _passages(2)
    assert [s["text"] for s in _run("Oui [1].", documents=passages)["sources"]] == [p.content for p in passages]


def test_run_without_passage_text():
    result = _run("Oui [1].", include_passage_text=False)
    assert all("text" not in source for source in result["sources"])


def test_run_drops_think_blocks():
    text = "<think>Le passage [3] parle\nde béton.</think>\nLe délai est de 3 mois [1].<think>encore [2]</think>"
    result = _run(text)
    assert result["answer"] == "Le délai est de 3 mois [1]."
    assert "think" not in result["answer"]
    assert _cited(result) == {1}  # citations inside the reasoning do not count


@pytest.mark.parametrize("replies", [[], [ChatMessage.from_assistant("")]])
def test_run_with_empty_replies(replies):
    result = CitedAnswerBuilder(cite_statements=False).run(replies=replies, documents=_passages(2))
    assert result["answer"] == ""
    assert result["invalid_citations"] == []
    assert [s["cited"] for s in result["sources"]] == [False, False]


def test_run_uses_only_the_first_reply():
    replies = [ChatMessage.from_assistant("Première [1]."), ChatMessage.from_assistant("Seconde [2].")]
    result = CitedAnswerBuilder(cite_statements=False).run(replies=replies, documents=_passages(2))
    assert result["answer"] == "Première [1]."
    assert _cited(result) == {1}


def test_run_keeps_french_punctuation_spacing():
    text = "Le délai est : 3 mois ; voir le CCTP [1]."
    assert _run(text)["answer"] == text


def test_run_drops_an_unclosed_think_block():
    result = _run("<think>Le passage [1] semble parler du délai, mais")
    assert not re.search(r"think|passage", result["answer"])
    assert _cited(result) == set()


def test_run_returns_the_reasoning_apart():
    result = _run("<think>Le passage [3] parle du délai.</think>Le délai est de 3 mois [1].")
    assert result["thinking"] == "Le passage [3] parle du délai."
    assert result["answer"] == "Le délai est de 3 mois [1]."


def test_run_with_prompted_thinking_sections():
    text = "Je cherche le délai dans [1].\n</thinking>\n<answer>\nLe délai est de 3 mois [1].\n</answer>"
    result = CitedAnswerBuilder(cite_statements=False).run(
        replies=[ChatMessage.from_assistant(text)], documents=_passages(2), prompted_thinking=True
    )
    assert result["thinking"] == "Je cherche le délai dans [1]."
    assert result["answer"] == "Le délai est de 3 mois [1]."


def test_run_takes_the_generator_reasoning_field():
    from haystack.dataclasses import ReasoningContent

    reply = ChatMessage.from_assistant("Trois mois [1].", reasoning=ReasoningContent(reasoning_text="Voyons."))
    result = CitedAnswerBuilder(cite_statements=False).run(replies=[reply], documents=_passages(1))
    assert (result["thinking"], result["answer"]) == ("Voyons.", "Trois mois [1].")


def test_run_sources_carry_the_metadata_and_the_text_when_asked():
    doc = Document(
        content="Texte.",
        meta={
            "title": "T",
            "source": "s.md",
            "theme": "voirie",
            "document_type": "fiche",
            "publish_date": "2025-01-02",
            "section_path": ["Chapitre 1", "Lot 2"],
            "unrelated": 1,
        },
        score=0.5,
    )
    builder = CitedAnswerBuilder(include_passage_text=False, cite_statements=False)
    (source,) = builder.run(replies=[ChatMessage.from_assistant("Oui [1].")], documents=[doc])["sources"]
    assert source == {
        "number": 1,
        "cited": True,
        "id": doc.id,
        "score": 0.5,
        "title": "T",
        "source": "s.md",
        "theme": "voirie",
        "document_type": "fiche",
        "publish_date": "2025-01-02",
        "section": "Chapitre 1 > Lot 2",
    }
    (source,) = builder.run(replies=[ChatMessage.from_assistant("Oui.")], documents=[doc], include_passage_text=True)[
        "sources"
    ]
    assert source["text"] == "Texte."
    assert source["cited"] is False


# ---- statements checked and attributed (cite_statements on) ----------------------------------------------------

FACTS = [
    Document(
        content="Total HT du marché : 631 592,50 €. TVA 20 % : 126 318,50 €. Total TTC : 757 911,00 €.",
        meta={"title": "Fiche affaire A2458"},
    ),
    Document(content="Le maître d'œuvre est l'Agence territoriale de Montreval.", meta={"title": "Fiche A2458"}),
    Document(content="Carotte C07 au PR 16+100 : 9,6 % de vides, au-delà de la limite de 9 %.", meta={"title": "RE"}),
]


def _cite(text: str) -> dict:
    return CitedAnswerBuilder().run(replies=[ChatMessage.from_assistant(text)], documents=FACTS)


def test_a_wrong_citation_is_replaced_by_the_passage_that_supports_the_statement():
    out = _cite("Le montant total HT du marché est de 631 592,50 € [2].")
    assert out["answer"] == "Le montant total HT du marché est de 631 592,50 € [1]."
    assert out["sources"][0]["cited_by"] == "attributed"
    assert not out["sources"][1]["cited"]


def test_a_right_citation_of_the_model_is_kept_as_its_own():
    out = _cite("Le maître d'œuvre est l'Agence territoriale de Montreval [2].")
    assert out["answer"] == "Le maître d'œuvre est l'Agence territoriale de Montreval [2]."
    assert (out["sources"][1]["cited_by"], out["sources"][1]["statements"]) == ("by_model", [0])


def test_an_uncited_supported_statement_gets_its_citation():
    out = _cite("La carotte C07 présente 9,6 % de vides. Le maître d'œuvre est l'Agence territoriale de Montreval.")
    assert out["answer"] == (
        "La carotte C07 présente 9,6 % de vides [3]. Le maître d'œuvre est l'Agence territoriale de Montreval [2]."
    )
    assert out["unsupported"] == []


def test_a_figure_in_no_passage_is_never_cited_and_is_reported():
    out = _cite("Le montant total HT du marché est de 650 000,00 € [1]. Le maître d'œuvre est l'Agence de Montreval.")
    assert out["answer"].startswith("Le montant total HT du marché est de 650 000,00 €. ")
    assert out["unsupported"] == ["Le montant total HT du marché est de 650 000,00 €."]
    assert out["sources"][0]["cited"] is False


def test_the_refusal_and_connectives_get_no_citation():
    out = _cite("Les documents fournis ne contiennent pas cette information. [1]")
    assert out["answer"] == "Les documents fournis ne contiennent pas cette information."
    assert not any(s["cited"] for s in out["sources"])
    assert _cite("Voici :")["answer"] == "Voici :"


def test_numbers_and_abbreviations_do_not_split_statements():
    from components.builders.statement_citer import split_statements

    text = "M. Lebrun suit le PR 16+300. Le total est de 631 592,50 € HT.\n- Client : CD [1]\n| a | 3,5 |"
    assert split_statements(text) == [
        "M. Lebrun suit le PR 16+300. ",
        "Le total est de 631 592,50 € HT.\n",
        "- Client : CD [1]\n",
        "| a | 3,5 |",
    ]


def test_a_streamed_answer_gets_the_same_citations_as_the_whole_one():
    text = "Le montant total HT du marché est de 631 592,50 € [2]. La carotte C07 présente 9,6 % de vides."
    builder = CitedAnswerBuilder()
    streaming = builder.stream_citer(FACTS)
    shown = []
    for i in range(0, len(text), 7):  # arbitrary chunk boundaries
        shown.append(streaming.feed(text[i : i + 7]))
        assert "[2]" not in "".join(shown)  # an unchecked citation is never shown
    shown.append(streaming.close())
    assert "".join(shown).strip() == _cite(text)["answer"]


STREAMED = [
    "Le montant total HT du marché est de 631 592,50 € [2]. La carotte C07 présente 9,6 % de vides.",
    "- Total HT : 631 592,50 € [1][2]\n- Maître d'œuvre : Agence territoriale de Montreval\n",
    "| Carotte | Vides |\n|---|---|\n| C07 | 9,6 % [3] |\nLe total est de 650 000,00 € [1]. Voici [2",
    "M. Lebrun suit le PR 16+300 [3]… Le total TTC est de 757 911,00 €[1] ; la TVA de 126 318,50 €.",
]


@pytest.mark.parametrize("text", STREAMED)
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_a_stream_cut_anywhere_shows_the_whole_answer_and_never_an_unchecked_citation(text, size):
    whole = _cite(text)["answer"]
    streaming = CitedAnswerBuilder().stream_citer(FACTS)
    shown = ""
    for i in range(0, len(text), size):
        shown += streaming.feed(text[i : i + size])
        assert whole.startswith(shown.strip()) or not shown.strip()  # never a text taken back
    shown += streaming.close()
    assert shown.strip() == whole


def test_a_streamed_statement_shows_its_words_before_it_ends():
    streaming = CitedAnswerBuilder().stream_citer(FACTS)
    shown = streaming.feed("Le montant total HT du marché est de 631 592,50 € [")
    assert shown == "Le montant total HT du marché est de 631 592,50 €"  # the citation's place is held back
    assert streaming.feed("2].") == ""
    assert streaming.close() == " [1]."


def test_only_passages_about_as_good_as_the_best_are_cited_beside_it():
    passages = [
        Document(content="Total HT du marché de l'affaire A2458 : 631 592,50 €.", meta={"title": "Fiche A2458"}),
        Document(content="Montant total HT : 631 592,50 €.", meta={"title": "Situation A2458"}),
    ]
    text = "Le montant total HT du marché de l'affaire A2458 est de 631 592,50 €."
    every = CitedAnswerBuilder().run(replies=[ChatMessage.from_assistant(text)], documents=passages)
    assert every["answer"].endswith("[1][2].")
    best = CitedAnswerBuilder(min_relative_support=0.9)
    out = best.run(replies=[ChatMessage.from_assistant(text)], documents=passages)
    assert out["answer"].endswith("631 592,50 € [1].")


TABLE = [
    Document(
        content="| N° prix | Désignation | Montant HT (€) |\n|---|---|---:|\n"
        "| 2 | Rabotage ép. 4 cm, évacuation des fraisats | 112 125,00 |\n| | Total HT | 631 592,50 |",
        meta={"title": "Fiche affaire A2458 — DQE"},
    )
]


def test_a_table_row_is_one_statement_cited_in_its_last_cell():
    from components.builders.statement_citer import split_statements

    row = "| 2 | Rabotage ép. 4 cm, évacuation des fraisats | 112 125,00 |\n"
    assert split_statements(row + "| | Total HT | 631 592,50 |") == [row, "| | Total HT | 631 592,50 |"]
    answer = "| N° prix | Désignation | Montant HT (€) |\n|---|---|---:|\n" + row + "| | Total HT | 631 592,50 |"
    out = CitedAnswerBuilder().run(replies=[ChatMessage.from_assistant(answer)], documents=TABLE)
    lines = out["answer"].splitlines()
    assert lines[1] == "|---|---|---:|"  # the separator row: no citation
    assert lines[2] == "| 2 | Rabotage ép. 4 cm, évacuation des fraisats | 112 125,00 [1] |"
    assert lines[3] == "| | Total HT | 631 592,50 [1] |"
    assert all(line.startswith("|") and line.endswith("|") for line in lines)  # still a Markdown table


def test_run_without_replies_is_the_refusal_with_the_passages_uncited():
    result = CitedAnswerBuilder(include_passage_text=False).run(documents=_passages(2))
    assert result["answer"] == NOT_IN_DOCUMENTS
    assert (result["thinking"], result["invalid_citations"], result["unsupported"]) == ("", [], [])
    assert [(s["number"], s["cited"]) for s in result["sources"]] == [(1, False), (2, False)]
    assert "text" not in result["sources"][0]
    assert "text" in CitedAnswerBuilder().run(documents=_passages(1), include_passage_text=True)["sources"][0]


# ---- an answer that restates the question ends with the closest key line ---------------------------------------

PLANNING = [
    Document(
        content="| Phase | Début | Fin |\n|---|---|---|\n"
        "| Signalisation horizontale provisoire | 10/11/2025 | 14/11/2025 |",
        meta={"title": "Planning RD 912"},
    ),
    Document(content="Le chantier de la RD 912 est suivi par M. Lebrun.", meta={"title": "Fiche A2458"}),
]
PLANNING_QUESTION = "Quand la signalisation horizontale provisoire de la RD 912 est-elle prévue ?"
PLANNING_KEY = [
    {
        "number": 1,
        "line": "| Signalisation horizontale provisoire | 10/11/2025 | 14/11/2025 |",
        "header": "| Phase | Début | Fin |",
    },
]


@pytest.mark.parametrize(
    ("answer", "restates"),
    [
        ("La signalisation horizontale provisoire de la RD 912 est-elle prévue [1][2]?", True),
        ("La signalisation horizontale provisoire de la RD 912 est prévue [1].", True),
        ("La signalisation horizontale provisoire est prévue du 10/11/2025 au 14/11/2025 [1].", False),
        ("Elle est prévue en semaine 46, après le rabotage.", False),
        ("Les documents fournis ne contiennent pas cette information.", False),
        ("Oui, la signalisation horizontale provisoire de la RD 912 est prévue.", False),  # a yes/no answer
        ("[1]", True),  # a passage pointed at, nothing said
        ("", False),  # no text yet: nothing streamed
    ],
)
def test_an_answer_restating_the_question_is_told_from_one_that_answers(answer, restates):
    from components.builders.closest_extract import restates_question

    assert restates_question(answer, PLANNING_QUESTION) is restates


def test_an_answer_restating_the_question_ends_with_the_closest_line_cited():
    reply = ChatMessage.from_assistant("La signalisation horizontale provisoire de la RD 912 est-elle prévue [2]?")
    out = CitedAnswerBuilder().run(replies=[reply], documents=PLANNING, query=PLANNING_QUESTION, key_lines=PLANNING_KEY)
    body, extract = out["answer"].split("\n\n", 1)
    assert body == "La signalisation horizontale provisoire de la RD 912 est-elle prévue ?"  # a question: no [n]
    assert extract == (
        "Extrait le plus proche de la question :\n\n| Phase | Début | Fin |\n|---|---|---|\n"
        "| Signalisation horizontale provisoire | 10/11/2025 | 14/11/2025 [1] |"
    )
    assert (out["sources"][0]["cited"], out["sources"][0]["cited_by"]) == (True, "extract")
    streaming = CitedAnswerBuilder().stream_citer(PLANNING, PLANNING_QUESTION, PLANNING_KEY)
    shown = "".join(streaming.feed(reply.text[i : i + 4]) for i in range(0, len(reply.text), 4)) + streaming.close()
    assert shown.strip() == out["answer"]  # streamed and whole alike


def test_a_sentence_extract_is_quoted_and_cited():
    from components.builders.closest_extract import closest_extract

    sentence = "L'avenant sera présenté au conseil municipal du jeudi 4 septembre 2025."
    line = {"number": 2, "line": sentence, "header": ""}
    extract = closest_extract("Le conseil municipal passe-t-il l'avenant ?", "Quand l'avenant passe-t-il ?", [line])
    assert extract == (
        "\n\nExtrait le plus proche de la question : « L'avenant sera présenté au conseil municipal du jeudi"
        " 4 septembre 2025. » [2]"
    )


def test_an_answer_of_citation_marks_alone_gets_the_closest_line():
    out = CitedAnswerBuilder().run(
        replies=[ChatMessage.from_assistant("[1]")],
        documents=PLANNING,
        query=PLANNING_QUESTION,
        key_lines=PLANNING_KEY,
    )
    assert out["answer"].startswith("Extrait le plus proche de la question :\n\n| Phase | Début | Fin |")
    assert out["sources"][0]["cited_by"] == "extract"
    streaming = CitedAnswerBuilder().stream_citer(PLANNING, PLANNING_QUESTION, PLANNING_KEY)
    shown = streaming.feed("[") + streaming.feed("1]") + streaming.close()
    assert shown.strip() == out["answer"]  # streamed and whole alike


@pytest.mark.parametrize("reply", ["[1]", " [1][2]. ", ""])
def test_an_answer_that_says_nothing_and_has_no_line_to_show_is_the_refusal(reply):
    # piaf, « Quels étaient les milieux humides avant l'exploitation minière ? » (its paragraph not indexed): the
    # 1.5B answered « [1] » and, no key line being closer than the others, the user got an empty answer.
    out = CitedAnswerBuilder().run(replies=[ChatMessage.from_assistant(reply)], documents=PLANNING, query="Quoi ?")
    assert out["answer"] == NOT_IN_DOCUMENTS
    assert not any(source["cited"] for source in out["sources"])
    streaming = CitedAnswerBuilder().stream_citer(PLANNING, "Quoi ?")
    shown = "".join(streaming.feed(piece) for piece in reply) + streaming.close()
    assert shown == NOT_IN_DOCUMENTS  # streamed and whole alike, nothing shown before it
    assert streaming.refused


def test_an_answer_that_answers_gets_no_extract():
    reply = ChatMessage.from_assistant("Elle est prévue du 10/11/2025 au 14/11/2025.")
    out = CitedAnswerBuilder().run(replies=[reply], documents=PLANNING, query=PLANNING_QUESTION, key_lines=PLANNING_KEY)
    assert out["answer"] == "Elle est prévue du 10/11/2025 au 14/11/2025 [1]."


# ---- an answer that leads with a figure ends with the line the figure comes from, when it says more -------------


def test_an_answer_copying_one_cell_of_a_row_ends_with_the_whole_row_cited():
    reply = ChatMessage.from_assistant("La signalisation horizontale provisoire de la RD 912 est prévue le 10/11/2025.")
    out = CitedAnswerBuilder().run(replies=[reply], documents=PLANNING, query=PLANNING_QUESTION, key_lines=PLANNING_KEY)
    body, extract = out["answer"].split("\n\n", 1)
    assert body == "La signalisation horizontale provisoire de la RD 912 est prévue le 10/11/2025 [1]."
    assert extract == (
        "Extrait cité :\n\n| Phase | Début | Fin |\n|---|---|---|\n"
        "| Signalisation horizontale provisoire | 10/11/2025 | 14/11/2025 [1] |"
    )
    streaming = CitedAnswerBuilder().stream_citer(PLANNING, PLANNING_QUESTION, PLANNING_KEY)
    shown = "".join(streaming.feed(reply.text[i : i + 5]) for i in range(0, len(reply.text), 5)) + streaming.close()
    assert shown.strip() == out["answer"]  # streamed and whole alike


def test_a_figure_read_from_the_wrong_row_is_shown_in_its_row():
    bill = Document(
        content="| Désignation | Montant (€) |\n|---|---|\n| Total HT | 631 592,50 |\n| Total TTC | 757 911,00 |",
        meta={"title": "Fiche affaire A2458"},
    )
    reply = ChatMessage.from_assistant("Le montant total HT du marché de l'affaire A2458 est de 757 911,00 € HT [1].")
    out = CitedAnswerBuilder().run(replies=[reply], documents=[bill], query="Montant total HT de l'affaire A2458 ?")
    row = "| Désignation | Montant (€) |\n|---|---|\n| Total TTC | 757 911,00 [1] |"
    assert out["answer"].endswith(f"Extrait cité :\n\n{row}")


def test_a_long_paragraph_is_quoted_by_the_sentence_holding_the_figures():
    paragraph = (
        "Le devis répond à la demande de la commune du 21 octobre 2025 et à la visite du 29 octobre 2025, en présence "
        "du maire et du responsable des services techniques, qui ont précisé les contraintes d'accès au chantier. "
        "L'offre est valable 90 jours à compter du 6 novembre 2025, soit jusqu'au 4 février 2026. Les prix sont "
        "fermes et non révisables pendant la durée du chantier, hors modification du programme demandée par la "
        "commune, qui ferait l'objet d'un avenant chiffré sur la base des prix unitaires du présent devis."
    )
    devis = Document(content=paragraph, meta={"title": "Devis D2025-087"})
    reply = ChatMessage.from_assistant("Le devis D2025-087 est valable 90 jours [1].")
    out = CitedAnswerBuilder().run(replies=[reply], documents=[devis], query="D2025-087 validité offre")
    assert out["answer"].endswith(
        "Extrait cité : « L'offre est valable 90 jours à compter du 6 novembre 2025, soit jusqu'au 4 février 2026. »"
        " [1]"
    )


@pytest.mark.parametrize(
    "reply",
    [
        "Intitulé : renforcement de la RD 912 [1].\nMontant : 757 911,00 € TTC [1].",  # leads with no figure
        "Intitulé : renforcement de la RD 912, PR 14+200 à PR 17+650 [1].",  # codes: a road, places
        "Le total TTC est de 757 911,00 € et le total HT de 631 592,50 € [1].",  # the row says nothing more
    ],
)
def test_an_answer_that_leads_with_no_figure_or_says_all_its_line_says_gets_no_extract(reply):
    bill = Document(
        content="Renforcement de la RD 912, PR 14+200 à PR 17+650, en 2025.\n"
        "Le total TTC est de 757 911,00 € et le total HT de 631 592,50 €.",
        meta={"title": "Fiche affaire A2458"},
    )
    out = CitedAnswerBuilder().run(
        replies=[ChatMessage.from_assistant(reply)], documents=[bill], query="Quel est le montant de l'affaire A2458 ?"
    )
    assert "Extrait" not in out["answer"]
