"""The documents API over the real `indexing` graph and the real embedded stores (Qdrant Edge and the BM25 store in
temporary folders, a hashing stand-in for the embedder), behind the real gateway with JWT users from a test issuer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bench import security
from indexing.index_files import _SHARED_INDEXERS, Indexer, manifest_path
from indexing.manifest import Manifest
from indexing.uploads import owner_folder, save_upload
from service.cli import main as rag
from service.documents import add_document_routes
from service.gateway import install_gateway
from service.gateway.cache import read_index_generation
from tests.unit.indexing.hashing_graph import HashingEmbedder, indexing_graph
from tests.unit.service.gateway.gateway_testing import AUDIENCE, ISSUER, jwt_auth, with_sections

pytestmark = pytest.mark.unit

EDITOR = "documentaliste"  # auth.documents_role in these tests
RULES = [
    {"name": "admins", "roles": ["admin"], "filters": None},
    {
        "name": "own-affairs",
        "roles": ["conducteur"],
        "filters": {"field": "meta.code_affaire", "operator": "in", "value": {"claim": "ao_ids"}},
    },
]
CR = "A2458_RD912/cr.md"
DEVIS = "A2511_parking/devis.md"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "A2458_RD912").mkdir(parents=True)
    (root / "A2511_parking").mkdir()
    (root / CR).write_text(
        "---\ntitle: Compte rendu RD 912\ndocument_type: compte_rendu\ndate: 2025-03-14\n---\n"
        "# Chantier\n## Rabotage\nRabotage de la chaussée : 68 % réalisés.\n## Enrobés\nBB 0/10 posé la semaine 12.\n",
        "utf-8",
    )
    (root / DEVIS).write_text("# Devis parking\nParking de 24 places, dont 1 place PMR.\n", "utf-8")
    (root / "note.txt").write_text("Note de service sur la viabilité hivernale.\n", "utf-8")
    (root / "_meta.yml").write_text("client: CD Val-de-Lière\n", "utf-8")
    (root / "plan.dwg").write_bytes(b"AC1032\x00\x00")  # no converter reads it: skipped
    (root / "vide.md").write_text("", "utf-8")  # no text
    return root.resolve()


@pytest.fixture
def jwks() -> Iterator[tuple[security.TestIssuer, str]]:
    """A test issuer and its JWKS URL, served on 127.0.0.1."""
    issuer = security.TestIssuer(ISSUER, AUDIENCE).add_rsa("k1")
    with issuer.serve() as url:
        yield issuer, url


@pytest.fixture
def doc_settings(settings, jwks, tmp_path):
    _, url = jwks
    configured = with_sections(settings, auth=jwt_auth(url, documents_role=EDITOR), access={"rules": RULES})
    indexing = configured.indexing.model_copy(update={"upload_dir": str(tmp_path / "uploads")})
    return configured.model_copy(update={"indexing": indexing})


@pytest.fixture
def indexer(doc_settings) -> Iterator[Indexer]:
    """The process's shared indexer for this data folder (what the routes use), on the hashing graph."""
    HashingEmbedder.calls = []
    shared = Indexer(doc_settings, indexing_graph(doc_settings))
    _SHARED_INDEXERS[manifest_path(doc_settings)] = shared
    yield shared
    _SHARED_INDEXERS.pop(manifest_path(doc_settings), None)


def _app(settings) -> FastAPI:
    app = FastAPI()
    add_document_routes(app, settings)
    install_gateway(app, settings)
    return app


@pytest.fixture
def client(doc_settings, indexer, corpus) -> Iterator[TestClient]:
    indexer.index([corpus])
    with TestClient(_app(doc_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def users(jwks) -> dict[str, dict[str, str]]:
    issuer, _ = jwks

    def bearer(name: str, roles: list[str], ao_ids: list[str] | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {issuer.user(name, roles, ao_ids)}"}

    return {
        "admin": bearer("alice", ["admin", EDITOR]),  # every document, may change them
        "reader": bearer("bob", ["admin"]),  # every document, may not change them
        "a2458": bearer("carla", ["conducteur"], ["A2458"]),  # the A2458 affair only, may not change it
        "a2511_editor": bearer("dan", ["conducteur", EDITOR], ["A2511"]),  # the A2511 affair only, may change it
    }


def _id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _stored(indexer: Indexer, path: Path) -> tuple[set[str], set[str]]:
    """The ids of the file's chunks in the vector store and in the BM25 store."""
    by_file = {"field": "meta.file_path", "operator": "==", "value": str(path)}
    return tuple(
        {d.id for d in indexer.pipeline.get_component(name).document_store.filter_documents(by_file)}
        for name in ("vector_writer", "bm25_writer")
    )


def _listing(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/documents", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _by_source(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["source"]: d for d in page["documents"]}


def test_the_listing_shows_every_file_with_its_status_and_chunks(client, users, corpus, indexer):
    page = _listing(client, users["admin"])
    docs = _by_source(page)
    assert sorted(docs) == sorted([CR, DEVIS, "note.txt", "plan.dwg", "vide.md"])
    assert page["total"] == 5
    for source in (CR, DEVIS, "note.txt"):
        vector, bm25 = _stored(indexer, corpus / source)
        assert docs[source]["status"] == "indexed"
        assert docs[source]["chunks"] == len(vector) == len(bm25) > 0
        assert docs[source]["id"] == _id(corpus / source)
        assert docs[source]["size"] == (corpus / source).stat().st_size
        assert docs[source]["indexed_at"] is not None
    assert len(_stored(indexer, corpus / CR)[0]) >= 2  # two sections: the chunk count is not a constant
    skipped, empty = docs["plan.dwg"], docs["vide.md"]
    assert (skipped["status"], skipped["reason"], skipped["chunks"], skipped["file_type"]) == (
        "skipped",
        "unsupported type .dwg",
        0,
        "dwg",
    )
    assert (empty["status"], empty["reason"], empty["chunks"], empty["indexed_at"]) == (
        "no_text",
        "empty file",
        0,
        None,
    )
    cr = docs[CR]
    assert (cr["title"], cr["code_affaire"], cr["client"], cr["document_type"], cr["date"]) == (
        "Compte rendu RD 912",
        "A2458",
        "CD Val-de-Lière",
        "compte_rendu",
        "2025-03-14",
    )
    assert (cr["file_type"], cr["ocr"], cr["uploaded"]) == ("md", False, False)
    assert docs[DEVIS]["code_affaire"] == "A2511"


def test_paging_and_the_status_filter(client, users):
    everything = _listing(client, users["admin"])
    seen = []
    for offset in (0, 2, 4):
        page = _listing(client, users["admin"], offset=offset, limit=2)
        assert (page["total"], page["offset"], page["limit"]) == (5, offset, 2)
        seen += [d["id"] for d in page["documents"]]
    assert seen == [d["id"] for d in everything["documents"]]  # the pages, in order, are the whole listing
    skipped = _listing(client, users["admin"], status="skipped")
    assert [d["source"] for d in skipped["documents"]] == ["plan.dwg"]
    assert skipped["total"] == 1
    for params in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"status": "deleted"}, {"limit": "ten"}):
        assert client.get("/documents", headers=users["admin"], params=params).status_code == 422, params


def test_show_returns_the_chunks_in_order(client, users, corpus, indexer):
    doc_id = _id(corpus / CR)
    response = client.get(f"/documents/{doc_id}", headers=users["admin"])
    assert response.status_code == 200, response.text
    document = response.json()
    manifest = Manifest.load(manifest_path(indexer.settings))
    listed = manifest.entries[str(corpus / CR)].chunk_ids
    assert [c["id"] for c in document["chunk_list"]] == listed  # the file's order
    assert document["chunks"] == len(listed)
    text = " ".join(c["text"] for c in document["chunk_list"])
    assert "68 %" in text
    assert "BB 0/10" in text
    assert any(c["section_path"] and c["section_path"][-1] == "Enrobés" for c in document["chunk_list"])
    assert document["source"] == CR
    unknown = client.get("/documents/0123456789abcdef", headers=users["admin"])
    assert unknown.status_code == 404
    assert "0123456789abcdef" in unknown.json()["detail"]


def test_delete_takes_the_chunks_out_of_both_stores_and_the_listing(client, users, corpus, indexer):
    path = corpus / CR
    doc_id = _id(path)
    chunks = len(_stored(indexer, path)[0])
    data_dir = indexer.settings.resolve_path(indexer.settings.stores.data_dir)
    generation = read_index_generation(data_dir)
    response = client.delete(f"/documents/{doc_id}", headers=users["admin"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["deleted"], body["chunks"], body["file_deleted"]) == (doc_id, chunks, False)
    assert "rag index" in body["note"]
    assert _stored(indexer, path) == (set(), set())
    assert _stored(indexer, corpus / DEVIS) != (set(), set())  # only that document
    assert CR not in _by_source(_listing(client, users["admin"]))
    assert client.get(f"/documents/{doc_id}", headers=users["admin"]).status_code == 404
    assert client.delete(f"/documents/{doc_id}", headers=users["admin"]).status_code == 404
    assert read_index_generation(data_dir) > generation  # cached answers are not served again
    assert path.is_file()  # the file is kept: the next `rag index` of its folder indexes it again
    again = indexer.index([corpus])
    assert again.added == [CR]
    assert _by_source(_listing(client, users["admin"]))[CR]["id"] == doc_id


def test_reindex_brings_back_chunks_even_when_the_file_is_unchanged(client, users, corpus, indexer):
    path = corpus / CR
    vector_ids, _ = _stored(indexer, path)
    for name in ("vector_writer", "bm25_writer"):  # chunks lost behind the indexer's back: the file is unchanged
        indexer.pipeline.get_component(name).document_store.delete_documents(sorted(vector_ids))
    assert indexer.index([corpus]).unchanged == 3  # a plain run does not see it
    assert _stored(indexer, path) == (set(), set())
    response = client.post(f"/documents/{_id(path)}/reindex", headers=users["admin"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["updated"], report["file_chunks"]) == ([CR], {CR: len(vector_ids)})  # the same source name
    assert _stored(indexer, path) == (vector_ids, vector_ids)
    listed = _by_source(_listing(client, users["admin"]))
    assert (listed[CR]["id"], listed[CR]["chunks"]) == (_id(path), len(vector_ids))
    assert sorted(listed) == sorted([CR, DEVIS, "note.txt", "plan.dwg", "vide.md"])  # no second entry


def test_reindex_of_a_file_gone_from_disk_is_a_conflict(client, users, corpus):
    (corpus / "note.txt").unlink()
    response = client.post(f"/documents/{_id(corpus / 'note.txt')}/reindex", headers=users["admin"])
    assert response.status_code == 409
    assert "delete" in response.json()["detail"]


def test_a_scoped_user_sees_and_opens_only_its_affairs(client, users, corpus):
    page = _listing(client, users["a2458"])
    assert [d["source"] for d in page["documents"]] == [CR]  # no other affair, nothing without chunks
    assert page["total"] == 1
    assert _listing(client, users["a2458"], status="skipped")["documents"] == []
    assert client.get(f"/documents/{_id(corpus / CR)}", headers=users["a2458"]).status_code == 200
    for hidden in (DEVIS, "note.txt", "plan.dwg", "vide.md"):
        response = client.get(f"/documents/{_id(corpus / hidden)}", headers=users["a2458"])
        assert response.status_code == 404, hidden
        unknown = client.get("/documents/0123456789abcdef", headers=users["a2458"])
        assert response.json()["detail"].replace(_id(corpus / hidden), "") == unknown.json()["detail"].replace(
            "0123456789abcdef", ""
        )  # as an unknown id: its existence is not revealed
    assert _listing(client, users["a2511_editor"])["documents"][0]["source"] == DEVIS


def test_changes_need_the_documents_role(client, users, corpus, indexer):
    cr = _id(corpus / CR)
    for who in ("a2458", "reader"):
        assert client.delete(f"/documents/{cr}", headers=users[who]).status_code == 403
        assert client.post(f"/documents/{cr}/reindex", headers=users[who]).status_code == 403
    refused = client.delete(f"/documents/{cr}", headers=users["reader"])
    assert EDITOR in refused.json()["detail"]
    assert _stored(indexer, corpus / CR)[0]  # nothing was deleted
    assert client.get("/documents", headers={}).status_code == 401


def test_an_editor_changes_only_what_its_scope_allows(client, users, corpus, indexer):
    editor = users["a2511_editor"]
    assert client.delete(f"/documents/{_id(corpus / CR)}", headers=editor).status_code == 404
    assert client.post(f"/documents/{_id(corpus / CR)}/reindex", headers=editor).status_code == 404
    assert client.delete(f"/documents/{_id(corpus / 'plan.dwg')}", headers=editor).status_code == 404
    assert _stored(indexer, corpus / CR)[0]
    assert client.delete(f"/documents/{_id(corpus / DEVIS)}", headers=editor).status_code == 200
    assert _stored(indexer, corpus / DEVIS) == (set(), set())


def test_deleting_an_uploaded_document_deletes_its_file(client, users, indexer, doc_settings):
    upload_dir = doc_settings.resolve_path(doc_settings.indexing.upload_dir).resolve()
    saved = save_upload(owner_folder(upload_dir, "user-alice"), "avis.md", b"# Avis\nAvis favorable.\n", {"a": 1})
    indexer.index([saved], source_root=upload_dir)  # as the upload route does
    listed = _by_source(_listing(client, users["admin"]))["user-alice/avis.md"]
    assert listed["uploaded"] is True
    response = client.delete(f"/documents/{listed['id']}", headers=users["admin"])
    assert response.status_code == 200, response.text
    assert response.json()["file_deleted"] is True
    assert not saved.exists()
    assert not saved.with_name("avis.md.meta.yml").exists()
    assert _stored(indexer, saved) == (set(), set())


def test_a_store_down_is_a_503_with_a_message(client, users, corpus, indexer, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")

    for name in ("vector_writer", "bm25_writer"):
        store = indexer.pipeline.get_component(name).document_store
        monkeypatch.setattr(store, "filter_documents", down)
        monkeypatch.setattr(store, "delete_documents", down)
    response = client.get("/documents", headers=users["admin"])
    assert response.status_code == 503
    assert "retry" in response.json()["detail"]
    assert "Traceback" not in response.text
    assert client.get(f"/documents/{_id(corpus / CR)}", headers=users["admin"]).status_code == 503
    assert client.delete(f"/documents/{_id(corpus / CR)}", headers=users["admin"]).status_code == 503
    assert str(corpus / CR) in Manifest.load(manifest_path(indexer.settings)).entries  # kept: retrying completes
    assert client.get("/documents", headers=users["admin"], params={"status": "skipped"}).status_code == 200


def test_dev_mode_allows_every_change(doc_settings, indexer, corpus):
    indexer.index([corpus])
    dev = with_sections(
        doc_settings, auth={"mode": "dev", "jwt": None}, access={"rules": [{"name": "everyone", "filters": None}]}
    )
    with TestClient(_app(dev), raise_server_exceptions=False) as client:
        response = client.delete(f"/documents/{_id(corpus / 'note.txt')}")
        assert response.status_code == 200, response.text


def test_an_old_manifest_without_sources_still_names_its_documents(client, users, corpus, indexer):
    manifest = Manifest.load(manifest_path(indexer.settings))
    for entry in manifest.entries.values():
        entry.source, entry.indexed_at = "", 0.0
    manifest.save()
    docs = _by_source(_listing(client, users["admin"]))
    assert sorted(docs) == sorted([CR, DEVIS, "note.txt", "plan.dwg", "vide.md"])  # from the chunks, or file names
    assert docs[CR]["indexed_at"] is None
    response = client.post(f"/documents/{docs[CR]['id']}/reindex", headers=users["admin"])
    assert response.json()["updated"] == [CR]  # indexed again from the folder it was indexed from


def test_the_routes_are_documented(doc_settings):
    schema = _app(doc_settings).openapi()
    assert {"/documents", "/documents/{document_id}", "/documents/{document_id}/reindex"} <= set(schema["paths"])
    assert schema["paths"]["/documents"]["get"]["tags"] == ["documents"]
    assert "delete" in schema["paths"]["/documents/{document_id}"]


def test_the_command_line_lists_shows_and_deletes(indexer, corpus, doc_settings, monkeypatch, capsys):
    indexer.index([corpus])
    monkeypatch.setattr("service.cli.load_settings", lambda: doc_settings)
    assert rag(["documents", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 5
    assert rag(["documents", "list"]) == 0
    table = capsys.readouterr().out
    assert "plan.dwg" in table
    assert "unsupported type .dwg" in table
    doc_id = _id(corpus / CR)
    assert rag(["documents", "show", doc_id]) == 0
    assert "68 %" in capsys.readouterr().out
    assert rag(["documents", "delete", doc_id]) == 0
    assert "rag index" in capsys.readouterr().out
    assert _stored(indexer, corpus / CR) == (set(), set())
    assert rag(["documents", "show", doc_id]) == 2
    assert doc_id in capsys.readouterr().err
