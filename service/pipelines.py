"""Load the YAML graphs in `pipelines/` and bind them to the configured backends.

A graph YAML is a plain Haystack pipeline definition, with one addition: a value may reference
- `${retrieval.top_k}`: a key of `hayhooks.yml` (see `service.settings`),
- `${env:NAME}` or `${env:NAME:-default}`: an environment variable,
- `${prompt:rag_answer}`: the text of `prompts/rag_answer.jinja2`.
A reference that is the whole value keeps the referenced value's type (an int stays an int).

The graphs name the production components (Qdrant, Elasticsearch, vLLM). With `stores.mode: embedded`, the same
graph is bound to local backends before it is built: the Qdrant engine in the process (Qdrant Edge) on disk, and an
in-process BM25 store in place of Elasticsearch. Node names and edges never change, so what is drawn is what runs.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from haystack import Pipeline

from components.french_analysis import use_code_patterns
from service.settings import PROJECT_ROOT, Settings
from service.store_registry import share_document_stores

# Custom components the graphs may name, besides Haystack and its integrations.
ALLOWED_MODULES = ["components.*"]
PROMPTS_DIR = PROJECT_ROOT / "prompts"
PROMPT_SUFFIX = ".jinja2"

QDRANT_STORE = "haystack_integrations.document_stores.qdrant.document_store.QdrantDocumentStore"
QDRANT_RETRIEVER = "haystack_integrations.components.retrievers.qdrant.retriever.QdrantEmbeddingRetriever"
QDRANT_EDGE_STORE = "components.document_stores.qdrant_edge.document_store.QdrantEdgeDocumentStore"
QDRANT_EDGE_RETRIEVER = "components.retrievers.qdrant_edge.retriever.QdrantEdgeEmbeddingRetriever"
ELASTICSEARCH_STORE = "haystack_integrations.document_stores.elasticsearch.document_store.ElasticsearchDocumentStore"
FRENCH_ELASTICSEARCH_STORE = (
    "components.document_stores.elasticsearch_french.document_store.FrenchElasticsearchDocumentStore"
)
ELASTICSEARCH_BM25_RETRIEVER = (
    "haystack_integrations.components.retrievers.elasticsearch.bm25_retriever.ElasticsearchBM25Retriever"
)
FRENCH_ELASTICSEARCH_BM25_RETRIEVER = (
    "components.retrievers.elasticsearch_french.retriever.FrenchElasticsearchBM25Retriever"
)
LOCAL_BM25_STORE = "components.document_stores.local_bm25.document_store.LocalBM25DocumentStore"
LOCAL_BM25_RETRIEVER = "components.retrievers.local_bm25.retriever.LocalBM25Retriever"

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


class PipelineDefinitionError(Exception):
    """A graph YAML that cannot be loaded, explained in plain words."""


def pipeline_yaml_path(name: str, settings: Settings) -> Path:
    """`pipelines/<name>/<name>.yml`."""
    return settings.resolve_path(settings.server.pipelines_dir) / name / f"{name}.yml"


def list_pipeline_names(settings: Settings) -> list[str]:
    """Every graph in `pipelines/`, deployed or not."""
    root = settings.resolve_path(settings.server.pipelines_dir)
    return sorted(p.parent.name for p in root.glob("*/*.yml") if p.stem == p.parent.name)


def read_prompt(name: str) -> str:
    path = PROMPTS_DIR / f"{name}{PROMPT_SUFFIX}"
    if not path.is_file():
        raise PipelineDefinitionError(f"prompt file not found: prompts/{name}{PROMPT_SUFFIX}")
    return path.read_text(encoding="utf-8")


def _resolve_reference(reference: str, settings: Settings, where: str) -> Any:
    kind, _, rest = reference.partition(":")
    if kind == "env" and rest:
        name, _, default = rest.partition(":-")
        if name in os.environ:
            return os.environ[name]
        if ":-" in rest:
            return default
        raise PipelineDefinitionError(f"{where}: environment variable {name} is not set")
    if kind == "prompt" and rest:
        return read_prompt(rest)
    try:
        return settings.lookup(reference)
    except KeyError:
        raise PipelineDefinitionError(f"{where}: '${{{reference}}}' is not a key of hayhooks.yml") from None


def resolve_references(node: Any, settings: Settings, where: str = "") -> Any:
    """Replace every `${...}` reference in a loaded YAML tree."""
    if isinstance(node, dict):
        return {k: resolve_references(v, settings, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_references(v, settings, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        whole = _REFERENCE.fullmatch(node.strip())
        if whole:
            return _resolve_reference(whole.group(1), settings, where)
        return _REFERENCE.sub(lambda m: str(_resolve_reference(m.group(1), settings, where)), node)
    return node


def embedded_vector_path(settings: Settings) -> Path:
    """The folder of the embedded Qdrant Edge shards (one per index)."""
    return settings.resolve_path(settings.stores.data_dir) / "qdrant-edge"


def legacy_local_qdrant_path(settings: Settings) -> Path:
    """Where earlier versions kept the vectors (qdrant-client's local mode): migrated into Qdrant Edge once."""
    return settings.resolve_path(settings.stores.data_dir) / "qdrant"


DATE_FIELDS = {"meta.publish_date", "meta.date"}  # ISO date strings: a datetime index (others: keyword)


def embedded_payload_indexes(settings: Settings) -> list[dict[str, str]]:
    """Payload indexes for the fields filters name: the indexer's `meta.file_path` and `access.filter_fields` (a
    filter on a field with an index reads the index, not every payload: 4 ms instead of 135 ms at 10k chunks)."""
    fields = ["meta.file_path", *settings.access.filter_fields]
    return [
        {"field_name": f, "field_schema": "datetime" if f in DATE_FIELDS else "keyword"} for f in dict.fromkeys(fields)
    ]


def _embedded_qdrant_store(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    keep = {"index", "embedding_dim", "similarity", "return_embedding", "payload_fields_to_index", "scroll_size"}
    bound = {k: v for k, v in params.items() if k in keep}
    bound["path"] = str(embedded_vector_path(settings))
    bound["migrate_from"] = str(legacy_local_qdrant_path(settings))
    bound["hnsw_ef"] = settings.stores.qdrant.hnsw_ef
    bound.setdefault("payload_fields_to_index", embedded_payload_indexes(settings))
    return bound


def _embedded_qdrant_retriever(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if params.get("group_by"):
        raise PipelineDefinitionError("QdrantEmbeddingRetriever: group_by is not available with stores.mode embedded")
    keep = {"document_store", "filters", "top_k", "scale_score", "return_embedding", "filter_policy", "score_threshold"}
    return {k: v for k, v in params.items() if k in keep}


def _embedded_bm25_store(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    index = params.get("index", settings.stores.elasticsearch.index)
    bound: dict[str, Any] = {"path": str(settings.resolve_path(settings.stores.data_dir) / f"bm25-{index}")}
    if "meta_fields_to_search" in params:
        bound["meta_fields_to_index"] = params["meta_fields_to_search"]
    if "codes_boost" in params:
        bound["codes_boost"] = params["codes_boost"]
    return bound


def _embedded_bm25_retriever(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    keep = {"document_store", "filters", "top_k", "scale_score", "filter_policy"}
    return {k: v for k, v in params.items() if k in keep}


# production type -> (embedded type, how its init parameters translate)
EMBEDDED_BINDINGS: dict[str, tuple[str, Callable[[dict[str, Any], Settings], dict[str, Any]]]] = {
    QDRANT_STORE: (QDRANT_EDGE_STORE, _embedded_qdrant_store),
    QDRANT_RETRIEVER: (QDRANT_EDGE_RETRIEVER, _embedded_qdrant_retriever),
    ELASTICSEARCH_STORE: (LOCAL_BM25_STORE, _embedded_bm25_store),
    FRENCH_ELASTICSEARCH_STORE: (LOCAL_BM25_STORE, _embedded_bm25_store),
    ELASTICSEARCH_BM25_RETRIEVER: (LOCAL_BM25_RETRIEVER, _embedded_bm25_retriever),
    FRENCH_ELASTICSEARCH_BM25_RETRIEVER: (LOCAL_BM25_RETRIEVER, _embedded_bm25_retriever),
}


def bind_backends(node: Any, settings: Settings) -> Any:
    """Swap production backends for the embedded ones when `stores.mode` is `embedded`."""
    if settings.stores.mode != "embedded":
        return node
    if isinstance(node, list):
        return [bind_backends(v, settings) for v in node]
    if not isinstance(node, dict):
        return node
    bound = {k: bind_backends(v, settings) for k, v in node.items()}
    if isinstance(bound.get("type"), str) and bound["type"] in EMBEDDED_BINDINGS:
        new_type, translate = EMBEDDED_BINDINGS[bound["type"]]
        bound["type"] = new_type
        bound["init_parameters"] = translate(dict(bound.get("init_parameters") or {}), settings)
    return bound


def read_definition(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PipelineDefinitionError(f"pipeline file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise PipelineDefinitionError(f"{path.name} is not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        raise PipelineDefinitionError(f"{path.name} has no 'components' mapping")
    return data


def bound_definition(name: str, settings: Settings) -> dict[str, Any]:
    """The graph `name` as a Haystack pipeline dict, references resolved and backends bound."""
    path = pipeline_yaml_path(name, settings)
    try:
        data = resolve_references(copy.deepcopy(read_definition(path)), settings)
    except PipelineDefinitionError as e:
        raise PipelineDefinitionError(f"{path.name}: {e}") from None
    return bind_backends(data, settings)


def build_pipeline(name: str, settings: Settings) -> Pipeline:
    """Load `pipelines/<name>/<name>.yml` as a runnable Haystack pipeline (not yet warmed up)."""
    use_code_patterns(settings.domain.code_patterns)  # the company's code shapes, for every component's codes_in
    data = bound_definition(name, settings)
    try:
        pipeline = Pipeline.from_dict(data, allowed_modules=ALLOWED_MODULES)
    except Exception as e:
        raise PipelineDefinitionError(f"{name}.yml: {explain_build_error(e)}") from e
    return share_document_stores(pipeline)  # one store instance per store in a process


# Graphs the service's own routes run that no Hayhooks wrapper serves, built and warmed up at start-up, by name. A
# wrapper builds its own graph in `setup()` (Hayhooks requires a wrapper to serve a route: a graph that must have
# none, like `question_rewrite`, a step of RAG answers, is kept here instead).
_SERVICE_PIPELINES: dict[str, Pipeline] = {}


def warm_up_service_pipeline(name: str, settings: Settings) -> Pipeline:
    """Build `pipelines/<name>/<name>.yml`, warm it up and keep it for the service's routes (`service_pipeline`)."""
    pipeline = build_pipeline(name, settings)
    pipeline.warm_up()
    _SERVICE_PIPELINES[name] = pipeline
    return pipeline


def service_pipeline(name: str) -> Pipeline | None:
    """The graph `name` built by `warm_up_service_pipeline`, if it was."""
    return _SERVICE_PIPELINES.get(name)


def explain_build_error(error: Exception) -> str:
    """Reword Haystack's deserialisation errors for the person editing the YAML."""
    text = str(error)
    cause = error.__cause__
    lowered = text.lower()
    if "not imported" in text or "could not import" in lowered or "allowlist" in lowered or "not allowed" in lowered:
        return f"unknown or disallowed component type ({text})"
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text
