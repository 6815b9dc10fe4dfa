import json

import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.preprocessors import DocumentMetadataResolver
from components.preprocessors.document_metadata_resolver import apply_path_rules, metadata_files

pytestmark = pytest.mark.unit

RULES = [
    {"pattern": r"(?:^|/)(?P<code_affaire>[A-Z]\d{4})_[^/]*/"},
    {"pattern": r"(?:^|/)normes/", "meta": {"reference": True}},
]


@pytest.fixture
def corpus(tmp_path):
    """A2458_RD912/_meta.yml, A2458_RD912/essais/_meta.yml and a report with front matter and a sidecar."""
    affaire = tmp_path / "A2458_RD912"
    (affaire / "essais").mkdir(parents=True)
    (affaire / "_meta.yml").write_text("client: CD Val-de-Lière\nlot: Lot 1\ntheme: terrassement\n", encoding="utf-8")
    (affaire / "essais" / "_meta.yml").write_text("lot: Lot 2\nservice: labo\n", encoding="utf-8")
    report = affaire / "essais" / "rapport.md"
    report.write_text("---\ntheme: chaussees\ntitle: Rapport RE-118\ndate: 2025-10-08\n---\n# Essais\nTexte", "utf-8")
    return tmp_path, report


def _resolve(tmp_path, path, content, **init):
    doc = Document(content=content, meta={"file_path": str(path)})
    (resolved,) = DocumentMetadataResolver(**init).run(documents=[doc], roots=[str(tmp_path)])["documents"]
    return resolved


def test_to_dict_from_dict():
    data = component_to_dict(DocumentMetadataResolver(path_rules=RULES, key_fields=["lot"]), "metadata_resolver")
    assert data["init_parameters"] == {"path_rules": RULES, "key_fields": ["lot"]}
    restored = component_from_dict(DocumentMetadataResolver, data, "metadata_resolver")
    assert restored.path_rules == RULES


def test_init_rejects_a_bad_pattern():
    with pytest.raises(Exception, match=r"unterminated|missing"):
        DocumentMetadataResolver(path_rules=[{"pattern": "(A"}])


def test_apply_path_rules():
    assert apply_path_rules("A2458_RD912/normes/x.md", RULES) == {"code_affaire": "A2458", "reference": True}
    assert apply_path_rules("A2458.md", RULES) == {}


def test_precedence_sidecar_front_matter_folder_path(corpus):
    tmp_path, report = corpus
    doc = _resolve(tmp_path, report, report.read_text("utf-8"), path_rules=RULES)
    # front matter (theme) wins over the folder; the nearest folder (lot) wins over its parent; the path gives the code
    assert doc.meta["theme"] == "chaussees"
    assert doc.meta["lot"] == "Lot 2"
    assert doc.meta["client"] == "CD Val-de-Lière"
    assert doc.meta["code_affaire"] == "A2458"
    assert doc.meta["service"] == "labo"
    assert doc.meta["date"] == "2025-10-08"
    assert doc.meta["source"] == "A2458_RD912/essais/rapport.md"
    assert doc.content == "# Essais\nTexte"
    # the sidecar wins over everything, including the front matter and the path
    sidecar = report.with_name("rapport.md.meta.json")
    sidecar.write_text(json.dumps({"theme": "ouvrages", "code_affaire": "A9999", "role": ["chef"]}), "utf-8")
    doc = _resolve(tmp_path, report, report.read_text("utf-8"), path_rules=RULES)
    assert (doc.meta["theme"], doc.meta["code_affaire"], doc.meta["role"]) == ("ouvrages", "A9999", ["chef"])


def test_system_fields_cannot_be_overridden(corpus):
    tmp_path, report = corpus
    report.with_name("rapport.md.meta.yml").write_text("source: ailleurs.md\nfile_hash: faux\n", encoding="utf-8")
    doc = _resolve(tmp_path, report, report.read_text("utf-8"))
    assert doc.meta["source"] == "A2458_RD912/essais/rapport.md"
    assert len(doc.meta["file_hash"]) == 64
    assert doc.meta["file_type"] == "md"


def test_title_falls_back_to_heading_then_file_name(tmp_path):
    path = tmp_path / "note_chantier.txt"
    assert _resolve(tmp_path, path, "## Planning\nTexte").meta["title"] == "Planning"
    assert _resolve(tmp_path, path, "Texte seul").meta["title"] == "note chantier"


def test_a_file_name_without_words_is_no_title(tmp_path):
    for name in ("12.md", "F34355.md", "2025-11_03.md"):
        path = tmp_path / name
        path.write_text("Texte seul", "utf-8")
        assert "title" not in _resolve(tmp_path, path, "Texte seul").meta, name


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [("tags: [enrobés]\n", True), ("lot: Lot 2\n", True), ("site: Bréchy\n", True), ("theme: voirie\n", False)],
)
def test_has_key_metadata(tmp_path, front_matter, expected):
    doc = _resolve(tmp_path, tmp_path / "a.md", f"---\n{front_matter}---\nTexte")
    assert doc.meta["has_key_metadata"] is expected


def test_reference_flag_is_a_boolean(tmp_path):
    assert _resolve(tmp_path, tmp_path / "a.md", "---\nreference: oui\n---\nx").meta["reference"] is True
    assert _resolve(tmp_path, tmp_path / "b.md", "---\nreference: 'false'\n---\nx").meta["reference"] is False


def test_broken_metadata_files_do_not_lose_the_document(tmp_path):
    path = tmp_path / "a.md"
    (tmp_path / "_meta.yml").write_text("- not\n- a mapping\n", encoding="utf-8")
    path.with_name("a.md.meta.yml").write_text("lot: [unclosed\n", encoding="utf-8")
    doc = _resolve(tmp_path, path, "---\ntitle: [broken\n---\nTexte")
    assert doc.content.endswith("Texte")
    assert doc.meta["source"] == "a.md"


def test_metadata_files_lists_what_can_change_a_file(corpus):
    tmp_path, report = corpus
    names = [p.relative_to(tmp_path).as_posix() for p in metadata_files(report, tmp_path)]
    assert "A2458_RD912/_meta.yml" in names
    assert "A2458_RD912/essais/_meta.yml" in names
    assert "A2458_RD912/essais/rapport.md.meta.json" in names


BILLION_LAUGHS = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
)


def test_metadata_with_aliases_is_refused_not_expanded(tmp_path, caplog):
    """A few hundred bytes of nested aliases expand to millions of items: a sidecar or front matter is refused."""
    document = tmp_path / "note.md"
    document.write_text("---\n" + BILLION_LAUGHS + "---\n# Note\nTexte.\n", encoding="utf-8")
    (tmp_path / "note.md.meta.yml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (tmp_path / "_meta.yml").write_text("client: CD\n", encoding="utf-8")
    resolver = DocumentMetadataResolver()
    doc = resolver.run([Document(content=document.read_text("utf-8"), meta={"file_path": str(document)})])["documents"][
        0
    ]
    assert doc.meta["client"] == "CD"  # the plain folder metadata still applies
    assert not {"a", "b", "c", "d"} & set(doc.meta)
    assert "anchors and aliases are not allowed in metadata" in caplog.text


def test_a_metadata_file_too_large_is_refused(tmp_path, caplog):
    document = tmp_path / "note.md"
    document.write_text("# Note\n", encoding="utf-8")
    (tmp_path / "note.md.meta.yml").write_text("tags: [" + ", ".join(["x"] * 200_000) + "]\n", encoding="utf-8")
    doc = DocumentMetadataResolver().run([Document(content="# Note\n", meta={"file_path": str(document)})])
    assert "tags" not in doc["documents"][0].meta
    assert "larger than a metadata file can be" in caplog.text
