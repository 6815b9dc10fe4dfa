from pathlib import Path

import pytest
from haystack import Pipeline

import service.pipelines
from service.pipelines import (
    ELASTICSEARCH_BM25_RETRIEVER,
    ELASTICSEARCH_STORE,
    FRENCH_ELASTICSEARCH_BM25_RETRIEVER,
    FRENCH_ELASTICSEARCH_STORE,
    LOCAL_BM25_RETRIEVER,
    LOCAL_BM25_STORE,
    PROMPTS_DIR,
    QDRANT_EDGE_RETRIEVER,
    QDRANT_EDGE_STORE,
    QDRANT_RETRIEVER,
    QDRANT_STORE,
    PipelineDefinitionError,
    bind_backends,
    bound_definition,
    build_pipeline,
    list_pipeline_names,
    pipeline_yaml_path,
    read_definition,
    resolve_references,
    service_pipeline,
    warm_up_service_pipeline,
)
from service.settings import load_settings

pytestmark = pytest.mark.unit

GRAPHS = ["chat", "indexing", "question_rewrite", "rag"]


def _resolved(name: str, settings) -> dict:
    return resolve_references(read_definition(pipeline_yaml_path(name, settings)), settings)


def _unwrapped(component: dict) -> dict:
    """A retriever node, seen through its FaultTolerantRetriever wrapper."""
    return component["init_parameters"].get("retriever", component)


def _store_of(definition: dict, node: str) -> dict:
    return _unwrapped(definition["components"][node])["init_parameters"]["document_store"]


def _raises(node, settings) -> str:
    with pytest.raises(PipelineDefinitionError) as info:
        resolve_references(node, settings)
    return str(info.value)


def test_resolve_references_whole_value_keeps_its_type(settings):
    resolved = resolve_references({"top_k": "${retrieval.top_k}", "temperature": " ${llm.temperature} "}, settings)
    assert resolved == {"top_k": settings.retrieval.top_k, "temperature": settings.llm_backend().temperature}
    assert isinstance(resolved["top_k"], int)


def test_resolve_references_embedded_in_a_string(settings):
    text = "${retrieval.top_k} passages sur ${llm.base_url}"
    expected = f"{settings.retrieval.top_k} passages sur {settings.llm_backend().base_url}"
    assert resolve_references(text, settings) == expected


def test_resolve_references_walks_mappings_and_lists(settings):
    node = {"a": ["${retrieval.dense_top_k}", {"b": "${stores.qdrant.index}"}], "n": 3, "flag": True, "none": None}
    expected = {"a": [settings.retrieval.dense_top_k, {"b": settings.stores.qdrant.index}], "n": 3, "flag": True}
    assert resolve_references(node, settings) == {**expected, "none": None}


def test_resolve_references_env(settings, monkeypatch):
    monkeypatch.setenv("BTP_RAG_TEST_VALUE", "depuis l'environnement")
    node = {"whole": "${env:BTP_RAG_TEST_VALUE}", "part": "x=${env:BTP_RAG_TEST_VALUE}"}
    assert resolve_references(node, settings) == {"whole": "depuis l'environnement", "part": "x=depuis l'environnement"}


def test_resolve_references_env_default(settings, monkeypatch):
    monkeypatch.delenv("BTP_RAG_TEST_VALUE", raising=False)
    node = ["${env:BTP_RAG_TEST_VALUE:-secours}", "${env:BTP_RAG_TEST_VALUE:-}"]
    assert resolve_references(node, settings) == ["secours", ""]
    monkeypatch.setenv("BTP_RAG_TEST_VALUE", "défini")
    assert resolve_references(node, settings) == ["défini", "défini"]


def test_resolve_references_prompt(settings):
    expected = (PROMPTS_DIR / "chat_system.jinja2").read_text(encoding="utf-8")
    assert resolve_references({"system_prompt": "${prompt:chat_system}"}, settings) == {"system_prompt": expected}


def test_resolve_references_missing_env_var(settings, monkeypatch):
    monkeypatch.delenv("BTP_RAG_TEST_UNSET", raising=False)
    message = _raises({"components": {"llm": {"init_parameters": {"key": "${env:BTP_RAG_TEST_UNSET}"}}}}, settings)
    assert "components.llm.init_parameters.key" in message
    assert "environment variable BTP_RAG_TEST_UNSET is not set" in message


def test_resolve_references_missing_key(settings):
    message = _raises({"ranker": {"top_k": "${retrieval.topk}"}}, settings)
    assert "ranker.top_k" in message
    assert "'${retrieval.topk}' is not a key of hayhooks.yml" in message


def test_resolve_references_missing_prompt(settings):
    message = _raises({"builder": {"template": "${prompt:introuvable}"}}, settings)
    assert "prompt file not found: prompts/introuvable.jinja2" in message


@pytest.mark.parametrize("name", ["rag", "indexing"])
def test_bind_backends_embedded(settings, name):
    data_dir = Path(settings.stores.data_dir)
    bound = bind_backends(_resolved(name, settings), settings)
    for component in map(_unwrapped, bound["components"].values()):
        assert component["type"] not in {
            ELASTICSEARCH_STORE,
            FRENCH_ELASTICSEARCH_STORE,
            ELASTICSEARCH_BM25_RETRIEVER,
            FRENCH_ELASTICSEARCH_BM25_RETRIEVER,
            QDRANT_RETRIEVER,
        }
        store = component["init_parameters"].get("document_store")
        assert not store or store["type"] != QDRANT_STORE
        if store and store["type"] == QDRANT_EDGE_STORE:
            params = store["init_parameters"]
            assert params["path"] == str(data_dir / "qdrant-edge")
            assert params["migrate_from"] == str(data_dir / "qdrant")  # the local-mode folder of earlier versions
            assert not {"url", "api_key", "progress_bar"} & set(params)
            assert params["index"] == settings.stores.qdrant.index
            assert params["embedding_dim"] == settings.models.embedder.dimension
            assert params["hnsw_ef"] == settings.stores.qdrant.hnsw_ef == 512  # docs/retrieval.md: recall at 20k
            indexes = {i["field_name"]: i["field_schema"] for i in params["payload_fields_to_index"]}
            assert indexes["meta.file_path"] == indexes["meta.code_affaire"] == "keyword"
            assert indexes["meta.publish_date"] == "datetime"
            assert set(settings.access.filter_fields) <= set(indexes)
        elif store:
            assert store == {
                "type": LOCAL_BM25_STORE,
                "init_parameters": {"path": str(data_dir / f"bm25-{settings.stores.elasticsearch.index}")},
            }


def test_bind_backends_embedded_bm25_retriever(settings):
    retriever = _unwrapped(bind_backends(_resolved("rag", settings), settings)["components"]["bm25_retriever"])
    assert retriever["type"] == LOCAL_BM25_RETRIEVER
    assert retriever["init_parameters"]["top_k"] == settings.retrieval.bm25_top_k
    assert retriever["init_parameters"]["document_store"]["type"] == LOCAL_BM25_STORE


def test_indexing_writes_where_rag_reads(settings):
    rag, indexing = bound_definition("rag", settings), bound_definition("indexing", settings)
    assert _store_of(indexing, "vector_writer") == _store_of(rag, "dense_retriever")
    assert _store_of(indexing, "bm25_writer") == _store_of(rag, "bm25_retriever")


def test_bind_backends_embedded_dense_retriever(settings):
    retriever = _unwrapped(bind_backends(_resolved("rag", settings), settings)["components"]["dense_retriever"])
    assert retriever["type"] == QDRANT_EDGE_RETRIEVER
    assert retriever["init_parameters"]["top_k"] == settings.retrieval.dense_top_k
    assert retriever["init_parameters"]["document_store"]["type"] == QDRANT_EDGE_STORE


def test_embedded_qdrant_keeps_the_declared_similarity(settings):
    """Qdrant Edge normalises cosine vectors once, when written, as a Qdrant server does: no reason to change it."""
    for name, node in (("rag", "dense_retriever"), ("indexing", "vector_writer")):
        assert _store_of(bound_definition(name, settings), node)["init_parameters"]["similarity"] == "cosine"


def test_embedded_qdrant_retriever_refuses_grouping(settings):
    node = {"type": QDRANT_RETRIEVER, "init_parameters": {"top_k": 5, "group_by": "meta.file_path"}}
    with pytest.raises(PipelineDefinitionError, match=r"group_by is not available with stores\.mode embedded"):
        bind_backends(node, settings)


def test_servers_mode_keeps_the_declared_similarity(servers_settings):
    assert (
        _store_of(bound_definition("rag", servers_settings), "dense_retriever")["init_parameters"]["similarity"]
        == "cosine"
    )


def test_bind_backends_servers_leaves_types_untouched(servers_settings):
    resolved = _resolved("rag", servers_settings)
    bound = bind_backends(resolved, servers_settings)
    assert bound == resolved
    assert _unwrapped(bound["components"]["bm25_retriever"])["type"] == FRENCH_ELASTICSEARCH_BM25_RETRIEVER
    assert _store_of(bound, "bm25_retriever")["type"] == FRENCH_ELASTICSEARCH_STORE
    qdrant = _store_of(bound, "dense_retriever")["init_parameters"]
    assert qdrant["url"] == servers_settings.stores.qdrant.url
    assert "path" not in qdrant


@pytest.mark.parametrize("name", GRAPHS)
def test_bound_definition_keeps_nodes_and_connections_in_both_modes(settings, servers_settings, name):
    raw = read_definition(pipeline_yaml_path(name, settings))
    embedded, servers = bound_definition(name, settings), bound_definition(name, servers_settings)
    assert list(embedded["components"]) == list(servers["components"]) == list(raw["components"])
    assert embedded["connections"] == servers["connections"] == raw["connections"]


def test_bound_definition_follows_retrieval_top_k(settings, monkeypatch):
    changed = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"top_k": 9})})
    assert bound_definition("rag", changed)["components"]["ranker"]["init_parameters"]["top_k"] == 9
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "7")
    from_env = load_settings()
    assert bound_definition("rag", from_env)["components"]["ranker"]["init_parameters"]["top_k"] == 7


def test_bound_definition_names_the_file_in_errors(settings, tmp_path, monkeypatch):
    folder = tmp_path / "graphs" / "broken"
    folder.mkdir(parents=True)
    (folder / "broken.yml").write_text("components:\n  a:\n    type: x.Y\n    init_parameters:\n      k: ${nope}\n")
    monkeypatch.setattr(settings.server, "pipelines_dir", str(tmp_path / "graphs"))
    with pytest.raises(PipelineDefinitionError, match=r"^broken\.yml: components\.a\.init_parameters\.k: "):
        bound_definition("broken", settings)


@pytest.mark.parametrize("name", GRAPHS)
def test_build_pipeline(settings, name):
    pipeline = build_pipeline(name, settings)
    assert isinstance(pipeline, Pipeline)
    raw = read_definition(pipeline_yaml_path(name, settings))
    assert set(pipeline.graph.nodes) == set(raw["components"])
    assert len(pipeline.graph.edges) == len(raw["connections"])
    assert not Path(settings.stores.data_dir).exists()  # building opens no store


def test_a_service_pipeline_is_built_warmed_up_and_kept_by_name(settings, monkeypatch):
    monkeypatch.setattr(service.pipelines, "_SERVICE_PIPELINES", {})
    assert service_pipeline("question_rewrite") is None
    rewriter = warm_up_service_pipeline("question_rewrite", settings)
    assert service_pipeline("question_rewrite") is rewriter
    assert set(rewriter.graph.nodes) == {"prompt_builder", "llm", "standalone_question"}


def test_build_pipeline_embedded_uses_the_local_bm25_store(settings):
    retriever = build_pipeline("rag", settings).get_component("bm25_retriever").retriever
    assert type(retriever).__name__ == "LocalBM25Retriever"
    assert retriever.document_store.path == str(Path(settings.stores.data_dir) / "bm25-rag_documents")


def test_build_pipeline_ranker_top_k_follows_settings(settings):
    changed = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"top_k": 3})})
    assert build_pipeline("rag", changed).get_component("ranker").top_k == 3


def test_list_pipeline_names(settings):
    assert list_pipeline_names(settings) == GRAPHS


def test_list_pipeline_names_needs_a_yml_named_after_its_folder(settings, tmp_path, monkeypatch):
    for folder, file in [("b", "b.yml"), ("a", "a.yml"), ("c", "other.yml"), ("d", "d.yaml")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / file).write_text("components: {}\n")
    monkeypatch.setattr(settings.server, "pipelines_dir", str(tmp_path))
    assert list_pipeline_names(settings) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "words"),
    [(None, "pipeline file not found"), ("components: [a", "not valid YAML"), ("connections: []\n", "no 'components'")],
)
def test_read_definition_errors(tmp_path, text, words):
    path = tmp_path / "g.yml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(PipelineDefinitionError, match=words):
        read_definition(path)


@pytest.mark.parametrize("name", ["rag", "indexing"])
def test_graphs_build_in_servers_mode(name, monkeypatch):
    """`stores.mode: servers` loads the graphs as written: the French Elasticsearch store included."""
    monkeypatch.setenv("RAG_STORES__MODE", "servers")
    settings = load_settings()
    assert settings.stores.mode == "servers"
    pipeline = build_pipeline(name, settings)
    stores = {type(store).__name__ for store in _document_stores(pipeline)}
    assert {"QdrantDocumentStore", "FrenchElasticsearchDocumentStore"} <= stores


def _document_stores(pipeline):
    found = []
    for _, instance in pipeline.walk():
        for holder in (instance, getattr(instance, "retriever", None)):
            for attribute in ("document_store", "_document_store"):
                store = getattr(holder, attribute, None) if holder is not None else None
                if store is not None:
                    found.append(store)
    return found
