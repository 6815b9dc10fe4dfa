import json
import multiprocessing
from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy

from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.retrievers.local_bm25 import LocalBM25Retriever

pytestmark = pytest.mark.unit

TYPE = "components.document_stores.local_bm25.document_store.LocalBM25DocumentStore"


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "stores" / "bm25-test")


@pytest.fixture
def documents() -> list[Document]:
    return [
        Document(id="beton", content="Le béton armé des fondations du lot 2", meta={"lot": "2"}),
        Document(id="enrobe", content="Enrobé bitumineux de la chaussée", meta={"lot": "3"}),
        Document(id="grave", content="Grave non traitée en couche de forme", meta={"lot": "3"}),
    ]


def _on_disk(path: str) -> dict[str, Document]:
    """What a new instance (as another process would) reads from the folder."""
    return {d.id: d for d in LocalBM25DocumentStore(path=path).filter_documents()}


def test_init(path):
    store = LocalBM25DocumentStore(path=path, bm25_algorithm="lucene", bm25_parameters={"k1": 1.2})
    assert store.path == path
    assert store.bm25_algorithm == "lucene"
    assert store.bm25_parameters == {"k1": 1.2}
    assert (store.stemmer, store.meta_fields_to_index) == ("french", ["title"])
    assert store.count_documents() == 0
    assert not Path(path).exists()  # created on the first write only


def test_init_rejects_an_unknown_algorithm(path):
    with pytest.raises(ValueError, match="bm25_algorithm must be one of"):
        LocalBM25DocumentStore(path=path, bm25_algorithm="BM25Okapi")
    with pytest.raises(ValueError, match="bm25_algorithm must be one of"):
        LocalBM25DocumentStore(path=path, bm25_algorithm="robertson")  # bm25s had it; tantivy has Lucene's only
    with pytest.raises(ValueError, match=r"k1 1\.2 and b 0\.75 only"):
        LocalBM25DocumentStore(path=path, bm25_parameters={"k1": 0.9})


def test_init_rejects_a_file_as_its_folder(tmp_path):
    (tmp_path / "bm25.json").write_text("{}")
    with pytest.raises(ValueError, match="is a file"):
        LocalBM25DocumentStore(path=str(tmp_path / "bm25.json"))


def test_to_dict(path):
    store = LocalBM25DocumentStore(path=path, bm25_parameters={"k1": 1.2}, stemmer="none")
    assert store.to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "path": path,
            "bm25_algorithm": "lucene",
            "bm25_parameters": {"k1": 1.2},
            "stemmer": "none",
            "meta_fields_to_index": ["title"],
            "codes_boost": 2.0,
        },
    }


def test_from_dict(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    data = {
        "type": TYPE,
        "init_parameters": {"path": path, "bm25_algorithm": "lucene", "bm25_parameters": {"b": 0.75}},
    }
    store = LocalBM25DocumentStore.from_dict(data)
    assert (store.path, store.bm25_algorithm, store.bm25_parameters) == (path, "lucene", {"b": 0.75})
    assert store.count_documents() == len(documents)
    assert LocalBM25DocumentStore.from_dict(store.to_dict()).to_dict() == store.to_dict()


def test_write_documents_creates_the_folder(path, documents):
    store = LocalBM25DocumentStore(path=path)
    assert store.write_documents(documents) == len(documents)
    assert set(_on_disk(path)) == {d.id for d in documents}
    assert (Path(path) / "meta.json").is_file()
    assert oct((Path(path) / "meta.json").stat().st_mode & 0o777) == "0o644"  # readable by a server of another user


def test_writes_add_segments_instead_of_rewriting_the_store(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id=f"d{i}", content=f"Chantier numéro {i} de voirie") for i in range(50)])
    before = {p.name: p.stat().st_mtime_ns for p in Path(path).iterdir() if not p.name.startswith((".", "meta"))}
    store.write_documents([Document(id="new", content="Nouvelle note de chantier")])
    after = {p.name: p.stat().st_mtime_ns for p in Path(path).iterdir() if not p.name.startswith((".", "meta"))}
    assert before
    assert all(after.get(name) == mtime for name, mtime in before.items())  # the earlier segments are untouched
    assert set(after) > set(before)


def test_documents_persist_across_instances(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    reopened = LocalBM25DocumentStore(path=path)
    assert reopened.count_documents() == len(documents)
    assert {d.id: (d.content, d.meta) for d in reopened.filter_documents()} == {
        d.id: (d.content, d.meta) for d in documents
    }


def test_write_by_one_instance_is_seen_by_another(path, documents):
    writer = LocalBM25DocumentStore(path=path)
    reader = LocalBM25DocumentStore(path=path)
    writer.write_documents(documents[1:])
    assert [d.id for d in reader.bm25_retrieval("béton fondations")] == []
    writer.write_documents(documents[:1])
    assert [d.id for d in reader.bm25_retrieval("béton fondations")] == ["beton"]
    writer.delete_documents(["beton"])
    assert reader.count_documents() == 2


async def test_async_retrieval_sees_writes_by_another_instance(path, documents):
    reader = LocalBM25DocumentStore(path=path)
    assert await reader.bm25_retrieval_async("enrobé") == []
    LocalBM25DocumentStore(path=path).write_documents(documents)
    assert [d.id for d in await reader.bm25_retrieval_async("enrobé")] == ["enrobe"]


def test_embeddings_are_not_stored(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id="d1", content="Texte", embedding=[0.1, 0.2, 0.3])])
    assert store.filter_documents()[0].embedding is None
    assert _on_disk(path)["d1"].embedding is None
    assert LocalBM25DocumentStore(path=path).filter_documents()[0].embedding is None


def test_write_does_not_mutate_the_given_documents(path):
    document = Document(id="d1", content="Texte", embedding=[0.1, 0.2])
    LocalBM25DocumentStore(path=path).write_documents([document])
    assert document.embedding == [0.1, 0.2]


def test_overwrite_of_the_same_ids_does_not_duplicate(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    updated = Document(id="beton", content="Béton fibré pour dallage", meta={"lot": "4"})
    assert store.write_documents([updated, documents[1]], policy=DuplicatePolicy.OVERWRITE) == 2
    assert store.count_documents() == len(documents)
    assert len(_on_disk(path)) == len(documents)
    reopened = LocalBM25DocumentStore(path=path)
    assert reopened.filter_documents({"field": "id", "operator": "==", "value": "beton"})[0].content == updated.content
    assert [d.id for d in reopened.bm25_retrieval("dallage fibré")] == ["beton"]
    assert reopened.bm25_retrieval("fondations armé") == []


def test_write_keeps_documents_written_by_another_instance(path, documents):
    first, second = LocalBM25DocumentStore(path=path), LocalBM25DocumentStore(path=path)
    first.write_documents(documents[:1])
    second.write_documents(documents[1:])
    assert set(_on_disk(path)) == {d.id for d in documents}


def test_a_write_is_one_commit(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents[:1])
    with pytest.raises(DuplicateDocumentError):
        store.write_documents([documents[1], documents[0]])  # the duplicate comes second: nothing is written
    assert set(_on_disk(path)) == {"beton"}
    store.write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
    assert set(_on_disk(path)) == {d.id for d in documents}


def test_overwrite_within_one_batch_keeps_the_last(path):
    store = LocalBM25DocumentStore(path=path)
    batch = [Document(id="d", content="Premier texte"), Document(id="d", content="Second texte")]
    assert store.write_documents(batch, policy=DuplicatePolicy.OVERWRITE) == 2
    assert [d.content for d in store.filter_documents()] == ["Second texte"]
    assert store.write_documents(batch, policy=DuplicatePolicy.SKIP) == 0


def test_write_of_an_existing_id_fails_by_default(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    with pytest.raises(DuplicateDocumentError):
        store.write_documents([documents[0]])


def test_delete_documents_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    store.delete_documents(["enrobe"])
    assert set(_on_disk(path)) == {"beton", "grave"}
    assert {d.id for d in LocalBM25DocumentStore(path=path).filter_documents()} == {"beton", "grave"}


def test_delete_all_documents_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    store.delete_all_documents()
    assert _on_disk(path) == {}
    assert LocalBM25DocumentStore(path=path).count_documents() == 0


def test_filter_documents(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    found = store.filter_documents({"field": "meta.lot", "operator": "==", "value": "3"})
    assert {d.id for d in found} == {"enrobe", "grave"}


def test_works_with_its_retriever(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    retriever = LocalBM25Retriever(document_store=LocalBM25DocumentStore(path=path), top_k=2)
    assert retriever.run(query="béton armé")["documents"][0].id == "beton"
    lot_3 = {"field": "meta.lot", "operator": "==", "value": "3"}
    found = retriever.run(query="béton chaussée couche", filters=lot_3)["documents"]
    assert {d.id for d in found} == {"enrobe", "grave"}


def test_retriever_round_trips_through_a_pipeline_dict(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    pipeline = Pipeline()
    pipeline.add_component("bm25_retriever", LocalBM25Retriever(document_store=LocalBM25DocumentStore(path=path)))
    restored = Pipeline.from_dict(pipeline.to_dict(), allowed_modules=["components.*"])
    store = restored.get_component("bm25_retriever").document_store
    assert isinstance(store, LocalBM25DocumentStore)
    assert store.path == path
    assert restored.run({"bm25_retriever": {"query": "enrobé"}})["bm25_retriever"]["documents"][0].id == "enrobe"


def test_update_by_filter_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    assert store.update_by_filter({"field": "meta.lot", "operator": "==", "value": "3"}, {"client": "Ville"}) == 2
    reopened = LocalBM25DocumentStore(path=path)
    assert {d.id for d in reopened.filter_documents({"field": "meta.client", "operator": "==", "value": "Ville"})} == {
        "enrobe",
        "grave",
    }


@pytest.fixture
def codes_corpus() -> list[Document]:
    return [
        Document(id="a2458", content="Compte rendu de chantier de l'affaire A2458 : enrobés posés.", meta={"lot": "1"}),
        Document(id="a2459", content="Compte rendu de chantier de l'affaire A2459 : enrobés posés.", meta={"lot": "1"}),
        Document(id="nfp", content="Enrobés conformes à la norme NF P 98-331 pour les tranchées.", meta={"lot": "2"}),
        Document(
            id="nfp150", content="Enrobés conformes à la norme NF P 98-150 pour les tranchées.", meta={"lot": "2"}
        ),
        Document(id="nfen", content="Essais selon NF EN 13108-1, enrobés bitumineux.", meta={"lot": "2"}),
        Document(id="bb010", content="Couche de roulement en BB 0/10 sur la chaussée.", meta={"lot": "3"}),
        Document(id="bb014", content="Couche de roulement en BB 0/14 sur la chaussée.", meta={"lot": "3"}),
        Document(id="gnt", content="Couche de forme en GNT 0/31,5 compactée.", meta={"lot": "3"}),
        Document(id="gnt20", content="Couche de forme en GNT 0/20 compactée.", meta={"lot": "3"}),
        Document(id="nov", content="Situation de travaux de la période 2025-11, chantier.", meta={"lot": "4"}),
        Document(id="oct", content="Situation de travaux de la période 2025-10, chantier.", meta={"lot": "4"}),
        Document(id="f0412", content="Facture F2025-0412 : situation de travaux n° 2.", meta={"lot": "4"}),
        Document(id="f0413", content="Facture F2025-0413 : situation de travaux n° 3.", meta={"lot": "4"}),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Où en est l'affaire A2458 ?", "a2458"),
        ("Quelles tranchées suivent la NF P 98-331 ?", "nfp"),
        ("norme NF EN 13108-1", "nfen"),
        ("Où a-t-on mis du BB 0/10 ?", "bb010"),
        ("Quelle couche de forme en GNT 0/31,5 ?", "gnt"),
        ("situation de travaux 2025-11", "nov"),
        ("Montant de la facture F2025-0412", "f0412"),
    ],
)
def test_a_code_in_the_query_ranks_its_document_first(path, codes_corpus, query, expected):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(codes_corpus)
    found = store.bm25_retrieval(query, top_k=3)
    assert found[0].id == expected
    assert found[0].score > found[1].score


def test_a_code_does_not_match_a_neighbouring_code(path, codes_corpus):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(codes_corpus)
    assert [d.id for d in store.bm25_retrieval("A2458")] == ["a2458"]
    assert store.bm25_retrieval("A2460") == []


def test_french_analysis_matches_inflections_accents_and_elisions(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id="d", content="Les canalisations posées sous l'échangeur")])
    assert [d.id for d in store.bm25_retrieval("canalisation POSEE echangeurs")] == ["d"]
    assert store.bm25_retrieval("les l' qu'") == []  # stop words and elided articles only


def test_title_is_searched_with_the_content(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id="d", content="Texte sans rapport", meta={"title": "Fiche affaire A2511"})])
    assert [d.id for d in store.bm25_retrieval("A2511")] == ["d"]
    assert LocalBM25DocumentStore(path=path, meta_fields_to_index=[]).bm25_retrieval("A2511") == []


def test_retrieval_follows_a_metadata_update(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id="d", content="Texte", meta={"title": "Ancien titre", "lot": "1"})])
    store.update_by_filter({"field": "meta.lot", "operator": "==", "value": "1"}, {"title": "Nouvelle chaussée"})
    assert [d.id for d in store.bm25_retrieval("chaussée")] == ["d"]
    assert store.bm25_retrieval("ancien") == []


def test_retrieval_filters_top_k_and_scores(path, codes_corpus):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(codes_corpus)
    lot_3 = {"field": "meta.lot", "operator": "==", "value": "3"}
    found = store.bm25_retrieval("couche chaussée enrobés", filters=lot_3, top_k=10)
    assert {d.id for d in found} == {"bb010", "bb014", "gnt", "gnt20"}
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert len(store.bm25_retrieval("couche chaussée enrobés", top_k=2)) == 2
    assert store.bm25_retrieval("chaussée", top_k=0) == []
    scaled = store.bm25_retrieval("chaussée", scale_score=True)
    assert all(0.5 < d.score < 1 for d in scaled)
    with pytest.raises(ValueError, match="Invalid filter syntax"):
        store.bm25_retrieval("chaussée", filters={"meta.lot": "3"})
    with pytest.raises(ValueError, match="non-empty"):
        store.bm25_retrieval("")


def test_retrieval_does_not_change_stored_documents(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    store.bm25_retrieval("béton")
    assert all(d.score is None for d in store.filter_documents())


def test_delete_by_filter_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    assert store.delete_by_filter({"field": "meta.lot", "operator": "==", "value": "3"}) == 2
    assert {d.id for d in LocalBM25DocumentStore(path=path).filter_documents()} == {"beton"}
    assert LocalBM25DocumentStore(path=path).bm25_retrieval("enrobé chaussée") == []


def test_skip_policy_keeps_the_stored_document(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    changed = Document(id="beton", content="Autre texte")
    assert store.write_documents([changed], policy=DuplicatePolicy.SKIP) == 0
    assert (
        store.filter_documents({"field": "id", "operator": "==", "value": "beton"})[0].content == documents[0].content
    )


def test_write_rejects_what_is_not_a_list_of_documents(path):
    with pytest.raises(ValueError, match="list of Documents"):
        LocalBM25DocumentStore(path=path).write_documents(["texte"])  # type: ignore[list-item]


def test_a_filter_is_evaluated_again_after_a_change(path, codes_corpus):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(codes_corpus)
    lot_9 = {"field": "meta.lot", "operator": "==", "value": "9"}
    assert store.bm25_retrieval("chaussée", filters=lot_9) == []
    LocalBM25DocumentStore(path=path).update_by_filter(
        {"field": "id", "operator": "==", "value": "bb014"}, {"lot": "9"}
    )
    assert [d.id for d in store.bm25_retrieval("chaussée", filters=lot_9)] == ["bb014"]
    assert [d.id for d in store.bm25_retrieval("chaussée", filters=lot_9, top_k=1)] == ["bb014"]


def test_warm_up_opens_the_index(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    store = LocalBM25DocumentStore(path=path)
    assert store._index is None
    store.warm_up()
    assert store._index is not None


def test_codes_weigh_more_than_words(path):
    documents = [
        Document(id="code", content="Affaire A2458 : réunion de chantier du lot voirie."),
        Document(id="words", content="Le montant du marché initial de la commune."),
        *(Document(id=f"a2458-{i}", content=f"Chantier A2458, note {i}.") for i in range(3)),
        *(Document(id=f"other-{i}", content=f"Note de service numéro {i} sur la signalisation.") for i in range(8)),
    ]
    LocalBM25DocumentStore(path=path).write_documents(documents)
    query = "Quel est le montant du marché de l'affaire A2458 ?"
    assert LocalBM25DocumentStore(path=path).bm25_retrieval(query, top_k=1)[0].id == "code"
    unboosted = LocalBM25DocumentStore(path=path, codes_boost=0)
    assert unboosted.bm25_retrieval(query, top_k=1)[0].id == "words"  # a frequent code alone weighs little


def _legacy_file(path: str, documents: list[Document]) -> Path:
    """The single JSON file of the store's earlier versions, at `<folder>.json`."""
    legacy = Path(f"{path}.json")
    legacy.parent.mkdir(parents=True, exist_ok=True)
    payload = {"documents": [d.to_dict(flatten=False) for d in documents]}
    legacy.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return legacy


def test_an_earlier_versions_file_is_imported_on_first_use(path, documents):
    legacy = _legacy_file(path, documents)
    store = LocalBM25DocumentStore(path=path)
    assert [d.id for d in store.bm25_retrieval("béton fondations")] == ["beton"]
    assert {d.id: d.meta for d in store.filter_documents()} == {d.id: d.meta for d in documents}
    assert not legacy.exists()
    assert legacy.with_name(f"{legacy.name}.imported").is_file()
    assert json.loads((Path(path) / "analysis.json").read_text()) == {
        "stemmer": "french",
        "meta_fields_to_index": ["title"],
    }
    store.write_documents([Document(id="new", content="Nouveau")])
    assert LocalBM25DocumentStore(path=path).count_documents() == len(documents) + 1  # imported once


def test_a_store_of_another_analysis_indexes_its_documents_again(path):
    LocalBM25DocumentStore(path=path).write_documents([Document(id="d", content="Canalisations posées")])
    unstemmed = LocalBM25DocumentStore(path=path, stemmer="none")
    assert unstemmed.bm25_retrieval("canalisation") == []  # the stemmed terms were replaced by whole words
    assert [d.id for d in unstemmed.bm25_retrieval("canalisations")] == ["d"]


def test_an_unreadable_earlier_file_says_so(path):
    Path(path).parent.mkdir(parents=True)
    Path(f"{path}.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot import the BM25 store of an earlier version"):
        LocalBM25DocumentStore(path=path).count_documents()


def _write_in_another_process(path: str, prefix: str, batches: int) -> None:
    store = LocalBM25DocumentStore(path=path)
    for b in range(batches):
        store.write_documents(
            [Document(id=f"{prefix}-{b}-{i}", content=f"Note {prefix} lot {b} pièce {i + 10}") for i in range(5)]
        )


def test_processes_write_in_turn_and_a_reader_sees_their_writes(path):
    reader = LocalBM25DocumentStore(path=path)
    assert reader.count_documents() == 0
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_in_another_process, args=(path, p, 5)) for p in ("alpha", "beta")]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [process.exitcode for process in writers] == [0, 0]
    assert reader.count_documents() == 2 * 5 * 5  # without reopening
    assert [d.id for d in reader.bm25_retrieval("note alpha lot 4 pièce 13", top_k=1)] == ["alpha-4-3"]
