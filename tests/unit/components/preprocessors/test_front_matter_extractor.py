import copy

import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.preprocessors import FrontMatterExtractor

pytestmark = pytest.mark.unit

TYPE = "components.preprocessors.front_matter_extractor.FrontMatterExtractor"

REPORT = """---
title: Compte rendu de chantier n°12
code_affaire: A2458
publish_date: 2024-03-01
visited_at: 2024-03-01 14:30:00
milestones: [2024-01-15, 2024-06-30]
tags: [voirie, enrobé]
---
# Réunion de chantier

Le chantier avance.
"""


def _run(*documents: Document, **init) -> list[Document]:
    return FrontMatterExtractor(**init).run(documents=list(documents))["documents"]


def test_init():
    assert FrontMatterExtractor().key_fields == ["code_affaire", "client", "commune", "lot", "document_type"]
    assert FrontMatterExtractor(key_fields=["lot"]).key_fields == ["lot"]


def test_to_dict():
    data = component_to_dict(FrontMatterExtractor(key_fields=["lot", "client"]), "metadata_extractor")
    assert data == {"type": TYPE, "init_parameters": {"key_fields": ["lot", "client"]}}


def test_from_dict():
    data = {"type": TYPE, "init_parameters": {"key_fields": ["lot"]}}
    assert component_from_dict(FrontMatterExtractor, data, "metadata_extractor").key_fields == ["lot"]


def test_run_moves_front_matter_to_meta():
    (doc,) = _run(Document(content=REPORT, meta={"source": "A2458/cr12.md"}))
    assert doc.content == "# Réunion de chantier\n\nLe chantier avance."
    assert doc.meta["title"] == "Compte rendu de chantier n°12"
    assert doc.meta["code_affaire"] == "A2458"
    assert doc.meta["tags"] == ["voirie", "enrobé"]
    assert doc.meta["source"] == "A2458/cr12.md"


def test_run_turns_dates_into_iso_strings():
    (doc,) = _run(Document(content=REPORT))
    assert doc.meta["publish_date"] == "2024-03-01"
    assert doc.meta["visited_at"] == "2024-03-01T14:30:00"
    assert doc.meta["milestones"] == ["2024-01-15", "2024-06-30"]


def test_run_existing_meta_wins_over_front_matter():
    text = "---\nsource: ailleurs.md\ntitle: Titre du fichier\n---\nTexte"
    (doc,) = _run(Document(content=text, meta={"source": "dossier/vrai.md", "title": "Titre de l'indexeur"}))
    assert doc.meta["source"] == "dossier/vrai.md"
    assert doc.meta["title"] == "Titre de l'indexeur"


@pytest.mark.parametrize(
    ("content", "meta", "title"),
    [
        ("Introduction\n\n## Objet du marché ##\n\n# Plus loin", {"source": "a/cctp.md"}, "Objet du marché"),
        ("---\nclient: Ville\n---\n# Titre du corps\nTexte", {"source": "a/cctp.md"}, "Titre du corps"),
        ("Pas de titre ici.", {"source": "dossier/cctp_lot2.md"}, "cctp_lot2"),
        ("Pas de titre ici.", {"file_path": "/data/notes/memo-travaux.txt"}, "memo-travaux"),
        ("Pas de titre ici.", {}, "Sans titre"),
    ],
)
def test_run_title_fallbacks(content, meta, title):
    (doc,) = _run(Document(content=content, meta=meta))
    assert doc.meta["title"] == title


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("", False),
        ("title: Note\ntheme: sécurité\n", False),
        ("tags: []\n", False),
        ("tags: [voirie]\n", True),
        ("code_affaire: A2458\n", True),
        ("client: Métropole\n", True),
        ("commune: Lyon\n", True),
        ("lot: '2'\n", True),
        ("document_type: CCTP\n", True),
    ],
)
def test_run_flags_key_metadata(front_matter, expected):
    (doc,) = _run(Document(content=f"---\n{front_matter}---\nTexte"))
    assert doc.meta["has_key_metadata"] is expected


def test_run_flags_key_metadata_with_custom_key_fields():
    docs = _run(
        Document(content="---\nclient: Ville\n---\nA"), Document(content="---\nlot: '3'\n---\nB"), key_fields=["lot"]
    )
    assert [d.meta["has_key_metadata"] for d in docs] == [False, True]


def test_run_keeps_a_document_with_broken_front_matter():
    text = "---\ntitle: [non fermé\n---\nLe texte reste."
    (doc,) = _run(Document(content=text, meta={"source": "dossier/casse.md"}))
    assert "Le texte reste." in doc.content
    assert doc.meta["source"] == "dossier/casse.md"
    assert doc.meta["title"] == "casse"
    assert doc.meta["has_key_metadata"] is False


def test_run_gives_new_ids_matching_new_content():
    original = Document(content=REPORT, meta={"source": "A2458/cr12.md"})
    (doc,) = _run(original)
    assert doc.id != original.id
    assert doc.id == Document(content=doc.content, meta=doc.meta).id


def test_run_does_not_mutate_inputs():
    inputs = [Document(content=REPORT, meta={"source": "a.md"}), Document(content="# Titre\nTexte", meta={"x": [1]})]
    before = copy.deepcopy(inputs)
    outputs = _run(*inputs)
    assert inputs == before
    assert [d.id for d in inputs] == [d.id for d in before]
    assert all(out.meta is not inp.meta for out, inp in zip(outputs, inputs, strict=True))


def test_run_keeps_order_and_count():
    docs = _run(*(Document(content=f"# Document {i}\nTexte") for i in range(5)))
    assert [d.meta["title"] for d in docs] == [f"Document {i}" for i in range(5)]


def test_run_with_no_key_fields_only_tags_count():
    (doc,) = _run(Document(content="---\nclient: Ville\n---\nTexte"), key_fields=[])
    assert doc.meta["has_key_metadata"] is False
