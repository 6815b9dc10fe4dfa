"""The service's one configuration file, `hayhooks.yml`, read and validated.

Hayhooks itself never reads `hayhooks.yml`: the entrypoint (`service.server`) does, and hands Hayhooks what it
needs. Every key can be overridden from the environment with the `RAG_` prefix and `__` between levels, e.g.
`RAG_STORES__QDRANT__URL=http://qdrant:6333` or `RAG_RETRIEVAL__TOP_K=8`. Secrets are never written in the file:
the file names the environment variable that holds each one (`api_key_env`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from service.gateway.config import (
    AccessSettings,
    AuthSettings,
    CacheSettings,
    LimitsSettings,
    LoggingSettings,
    RateLimitSettings,
    RedisSettings,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_ENV_VAR = "RAG_CONFIG"
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "hayhooks.yml"


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits `hayhooks.yml`."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CORSSettings(_Section):
    """Which web pages (origins) may call the service from a browser; none by default."""

    # Exact origins, e.g. https://chat.example.fr. Open WebUI calls the service from its own server, not the
    # browser: it needs no entry. A WebSocket's `Origin` is checked against the same list (same-origin is allowed).
    allow_origins: list[str] = []
    allow_credentials: bool = False


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(1416, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    pipelines_dir: str = "pipelines"
    # The Hayhooks pipelines deployed at start-up, by folder name under `pipelines_dir`.
    pipelines: list[str] = ["rag", "chat", "upload"]
    # CPU priority (nice, 0-19) of the threads that run the graphs' heavy nodes (embedder, retrievers, cross-encoder)
    # relative to the event loop, which answers cached requests and moves every request from node to node.
    graph_thread_nice: int = Field(5, ge=0, le=19)
    # CPU priority (nice, 0-19) below the event loop of the thread that runs an indexing run `rag index` hands to the
    # service (embedded mode): answers go first, the run uses what they leave.
    indexing_thread_nice: int = Field(10, ge=0, le=19)
    # Hayhooks' in-memory buffer of every Haystack span (its /traces view). Off: under load it cost tens of ms per
    # graph node (bench/load.py); the access log and /metrics keep the per-stage timings.
    live_traces: bool = False
    # Hayhooks' deploy, YAML-deploy and undeploy routes (they run the code and graphs a request sends): not served
    # unless true, and then only to the `auth.admin_role`. The service deploys `pipelines` from its folder itself.
    admin_routes: bool = False
    cors: CORSSettings = CORSSettings()
    # `/ready` probes every backend: a result is reused this long, and concurrent calls share one probe.
    ready_cache_seconds: float = Field(1.0, ge=0)


class QdrantSettings(_Section):
    url: str = "http://localhost:6333"
    index: str = "rag_documents"
    api_key_env: str = "QDRANT_API_KEY"
    # The embedded store's HNSW search width (Qdrant Edge; a segment past ~6,600 vectors is searched by HNSW, a
    # smaller one exactly). Measured in docs/retrieval.md (bench/dense_recall.py); None: Qdrant's own default.
    hnsw_ef: int | None = Field(512, ge=1)


class ElasticsearchSettings(_Section):
    hosts: str = "http://localhost:9200"
    index: str = "rag_documents"
    api_key_env: str = "ELASTICSEARCH_API_KEY"


class StoresSettings(_Section):
    # embedded: Qdrant Edge (the Qdrant engine in the process) and an in-process BM25 store, on disk under `data_dir`.
    # servers: the Qdrant and Elasticsearch servers named below.
    mode: Literal["embedded", "servers"] = "embedded"
    data_dir: str = "var/data"
    qdrant: QdrantSettings = QdrantSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class EmbedderSettings(_Section):
    model: str
    dimension: int = Field(..., gt=0)
    query_prefix: str  # the embedder's own convention (e5: "query: "), no default: a wrong one costs recall
    document_prefix: str
    onnx_file: str  # the encoder both graphs run, relative to `model` (scripts/install_models.py writes it)
    batch_size: int = Field(32, ge=1)


class RankerSettings(_Section):
    model: str
    batch_size: int = Field(16, ge=1)


class LLMBackendSettings(_Section):
    base_url: str
    model: str
    api_key_env: str = "VLLM_API_KEY"
    timeout: float = Field(120.0, gt=0)
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.1, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    # How the model gives its reasoning: native (vLLM reasoning parser or `<think>` in the content, switched by
    # the chat template's enable_thinking), prompted (asked for <thinking>/<answer> sections), none (never thinks).
    thinking: Literal["native", "prompted", "none"] = "prompted"


class LocalLLMSettings(_Section):
    """The vLLM server the embedded default starts itself (reached only through its OpenAI API)."""

    enabled: bool = True
    backend: str | None = None  # a name of models.llm.backends; None: the default backend
    model_dir: str | None = None  # None: var/models/<the backend's model>, where scripts/setup_llm.sh puts it
    port: int = Field(8000, ge=1, le=65535)
    max_model_len: int = Field(4096, ge=256)
    start_timeout: float = Field(900.0, gt=0)


class LLMSettings(_Section):
    default: str
    backends: dict[str, LLMBackendSettings]
    local: LocalLLMSettings | None = None

    @model_validator(mode="after")
    def _names_exist(self) -> LLMSettings:
        if self.default not in self.backends:
            raise ValueError(f"default '{self.default}' is not one of models.llm.backends ({', '.join(self.backends)})")
        if self.local is not None:
            if self.local.backend is None:
                self.local.backend = self.default
            if self.local.backend not in self.backends:
                raise ValueError(f"local.backend '{self.local.backend}' is not one of models.llm.backends")
            if self.local.model_dir is None:
                self.local.model_dir = f"var/models/{self.backends[self.local.backend].model}"
        return self


class ModelsSettings(_Section):
    embedder: EmbedderSettings
    ranker: RankerSettings
    llm: LLMSettings


class FusionSettings(_Section):
    """How the dense and BM25 candidate lists become one (`HYBRID_FUSION`)."""

    # rrf: reciprocal rank fusion; weighted: min-max-normalised score fusion.
    method: Literal["rrf", "weighted"] = "weighted"
    dense_weight: float = Field(0.5, ge=0)
    bm25_weight: float = Field(0.5, ge=0)
    rrf_k: int = Field(60, ge=1)
    top_k: int = Field(20, ge=1, le=1000)

    @model_validator(mode="after")
    def _some_weight(self) -> FusionSettings:
        if self.dense_weight + self.bm25_weight == 0:
            raise ValueError("dense_weight and bm25_weight cannot both be 0")
        return self


class MetadataBoostSettings(_Section):
    """Score multipliers for documents whose metadata matches the question (`MetadataBooster`)."""

    enabled: bool = False
    title_weight: float = Field(1.0, ge=1)
    tags_weight: float = Field(3.0, ge=1)
    key_metadata_weight: float = Field(2.0, ge=1)
    key_fields: list[str] = ["code_affaire", "client", "commune", "document_type", "lot"]
    missing_metadata_penalty: float = Field(0.8, gt=0, le=1)
    reference_weight: float = Field(1.0, ge=1)
    recency_weight: float = Field(1.0, ge=1)
    recency_half_life_days: float = Field(365.0, gt=0)
    date_fields: list[str] = ["publish_date", "date"]


class NumericPrioritySettings(_Section):
    """For questions asking for a figure, chunks carrying relevant figures move ahead (`NumericChunkPrioritizer`)."""

    enabled: bool = False
    window: int = Field(10, ge=1)
    lead: int = Field(3, ge=0)
    keep_best: int = Field(2, ge=0)


class CodeFocusSettings(_Section):
    """The documents naming the question's codes (`A2458`, `NF P 98-331`) alone, when some do (`CodeFocus`)."""

    enabled: bool = True


class DateFocusSettings(_Section):
    """The passages naming the question's day (`6 octobre 2025`, `06/10/2025`) first (`DateFocus`)."""

    enabled: bool = True
    lead: int = Field(3, ge=0, le=50)


class RerankSettings(_Section):
    """The cross-encoder (`models.ranker`) over the fused top-N, blended with the fused score."""

    enabled: bool = False
    top_n: int = Field(20, ge=1, le=200)
    # Share of the cross-encoder's normalised score in the final score (1.0: cross-encoder order only).
    blend_weight: float = Field(1.0, ge=0, le=1)


class RetrievalSettings(_Section):
    dense_top_k: int = Field(50, ge=1, le=1000)
    bm25_top_k: int = Field(50, ge=1, le=1000)
    top_k: int = Field(5, ge=1, le=1000)
    fusion: FusionSettings = FusionSettings()
    metadata: MetadataBoostSettings = MetadataBoostSettings()
    numeric: NumericPrioritySettings = NumericPrioritySettings()
    code_focus: CodeFocusSettings = CodeFocusSettings()
    date_focus: DateFocusSettings = DateFocusSettings()
    rerank: RerankSettings = RerankSettings()

    @model_validator(mode="after")
    def _rerank_within_the_fused_candidates(self) -> RetrievalSettings:
        if self.rerank.enabled and self.rerank.top_n > self.fusion.top_k:
            raise ValueError(
                f"rerank.top_n ({self.rerank.top_n}) is larger than fusion.top_k ({self.fusion.top_k}): the "
                "cross-encoder only sees the fused candidates; raise fusion.top_k or lower rerank.top_n"
            )
        return self


class OcrSettings(_Section):
    """Reading scanned pages and images (tesseract, installed by scripts/setup.sh)."""

    enabled: bool = True  # off: scans are reported as `no text (scanned, OCR off)`
    languages: list[str] = ["fra"]  # tesseract language models (Debian packages tesseract-ocr-<lang>)


class ConversionLimits(_Section):
    """Bounds on reading one file, so that a crafted or broken file fails alone and the service keeps answering."""

    max_file_mb: int = Field(200, ge=1)  # a larger file is `failed: too large` before it is read
    timeout_s: float = Field(300.0, gt=0)  # seconds to convert one file (OCR of a long scan included)
    memory_mb: int = Field(3072, ge=256)  # address space of the child process that converts one file
    max_inflated_mb: int = Field(512, ge=1)  # total inflated size of an Office/OpenDocument file's zip parts


class IndexingSettings(_Section):
    """How files become chunks (`rag index`, the upload endpoint, pipelines/indexing/indexing.yml)."""

    ocr: OcrSettings = OcrSettings()
    limits: ConversionLimits = ConversionLimits()

    max_tokens: int = Field(200, ge=16, le=510)  # per chunk, in the embedder's tokens
    overlap_tokens: int = Field(40, ge=0)
    batch_files: int = Field(64, ge=1)  # files per run of the indexing graph
    key_fields: list[str] = ["code_affaire", "client", "commune", "site", "lot"]
    # Path conventions: `pattern` is a regex searched in the path relative to the indexed folder; its named groups
    # become fields, and `meta` adds fixed fields.
    path_rules: list[dict[str, Any]]  # hayhooks.yml writes the deployment's (an empty list: none)
    upload_dir: str = "var/uploads"  # where the upload endpoint keeps the files it indexes

    @model_validator(mode="after")
    def _rules_are_valid(self) -> IndexingSettings:
        for i, rule in enumerate(self.path_rules):
            if set(rule) - {"pattern", "meta"} or not isinstance(rule.get("pattern"), str):
                raise ValueError(f"path_rules[{i}] must have a 'pattern' (a regex) and optionally 'meta'")
            try:
                re.compile(rule["pattern"])
            except re.error as e:
                raise ValueError(f"path_rules[{i}].pattern is not a valid regex: {e}") from None
            if not isinstance(rule.get("meta", {}), dict):
                raise ValueError(f"path_rules[{i}].meta must be a mapping of fields")
        if self.overlap_tokens * 2 >= self.max_tokens:
            raise ValueError("overlap_tokens must be less than half of max_tokens")
        return self


class ContextSettings(_Section):
    """What the LLM sees of the ranked passages (`ContextFormatter`)."""

    max_docs: int = Field(3, ge=1, le=50)
    max_chunks_per_source: int = Field(2, ge=1, le=20)
    max_tokens_per_doc: int = Field(350, ge=16, le=8000)
    strip_markup: bool = True
    key_lines: int = Field(ge=0, le=20)
    key_lines_only: list[str]
    key_rows_as_fields: bool
    key_cells: bool
    versions: bool
    version_markers: dict[str, str] | None = None  # None: components.builders.document_versions' defaults


class AnswerabilitySettings(_Section):
    """Whether the passages can answer the question (`AnswerabilityChecker`); no: the refusal, no LLM call."""

    enabled: bool
    min_coverage: float = Field(ge=0, le=1)
    max_name_share: float = Field(ge=0, le=1)
    numbered_words: list[str] | None = None  # None: the checker's DEFAULT_NUMBERED_WORDS


class CitationSettings(_Section):
    """Citations checked and attributed statement by statement (`StatementCiter`, in `CitedAnswerBuilder`)."""

    enabled: bool
    min_overlap: float = Field(ge=0, le=1)
    min_overlap_with_figures: float = Field(ge=0, le=1)
    max_citations: int = Field(ge=1, le=10)
    min_relative_support: float = Field(ge=0.0, le=1.0)
    ground_figures: bool = True  # figures from documents that do not name the question's names: left out / refused


class HistorySettings(_Section):
    """Conversation history: follow-up questions rewritten before retrieval, turns trimmed to a token budget."""

    rewrite_questions: bool = True
    max_tokens: int = Field(1024, ge=0, le=32000)
    rewrite_max_tokens: int = Field(64, ge=8, le=512)


class GenerationLimits(_Section):
    """Upper bounds on what a request may ask of the LLM (values above are lowered to these)."""

    max_tokens: int = Field(1024, ge=1)
    temperature: float = Field(1.5, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)


class GenerationSettings(_Section):
    enable_thinking: bool = False  # default; a request's `enable_thinking` wins
    include_passage_text: bool = True  # sources carry their passage text unless a request says otherwise
    openai_sources_footer: bool = True  # OpenAI answers end with a Markdown "Sources" list
    tokenizer: str | None = None  # the LLM's tokenizer folder (tokenizer.json), for token budgets
    repeated_line_chars: int = Field(16, ge=0)  # RAG answers end at a loop of such lines (RepetitionGuard); 0: off
    max_lines: dict[str, int] = {"fiche": 8}  # prompt template -> lines its answer may hold (the prompt says it)
    context: ContextSettings
    answerability: AnswerabilitySettings
    citations: CitationSettings
    history: HistorySettings = HistorySettings()
    limits: GenerationLimits = GenerationLimits()


class DomainSettings(_Section):
    """The company's vocabulary: what its codes look like."""

    # Regular expressions of its codes (affairs, quotes, invoices, norms, roads), each matched whole; a question that
    # names one is about it (code focus, follow-up questions, citations). None: the built-in shapes
    # (components/french_analysis.py: `A2458`, `F2025-0412`, `PRO-SEC-04`, `NF P 98-331`, `RD 912`...).
    code_patterns: list[str] | None = None

    @field_validator("code_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression: {e}") from None
        return patterns


class Settings(BaseSettings):
    """Everything `hayhooks.yml` holds."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = ServerSettings()
    stores: StoresSettings = StoresSettings()
    models: ModelsSettings
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings
    indexing: IndexingSettings
    # The gateway in front of the pipelines (service/gateway/config.py).
    auth: AuthSettings  # required: auth off (mode: dev) must be written down
    access: AccessSettings = AccessSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cache: CacheSettings = CacheSettings()
    redis: RedisSettings = RedisSettings()
    logging: LoggingSettings = LoggingSettings()
    request_limits: LimitsSettings = LimitsSettings()
    domain: DomainSettings = DomainSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed as init values by `load_settings`).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _tokenizer_of_the_local_model(self) -> Settings:
        # generation.tokenizer: null counts tokens as the local model does (the folder setup_llm.sh installed).
        if self.generation.tokenizer is None and self.models.llm.local is not None:
            self.generation.tokenizer = self.models.llm.local.model_dir
        return self

    def resolve_path(self, value: str) -> Path:
        """A path from the configuration, relative to the project root unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

    def lookup(self, dotted: str) -> Any:
        """
        The value at a dotted key such as `retrieval.top_k`, for `${...}` references in pipeline YAML.

        `llm.<field>` is a shorthand for the default LLM backend's field (`models.llm.backends.<default>.<field>`).
        """
        node: Any = self
        parts = dotted.split(".")
        if parts[0] == "llm" and len(parts) > 1:
            node, parts = self.llm_backend(), parts[1:]
        while parts:
            if isinstance(node, BaseModel) and parts[0] in type(node).model_fields:
                node, parts = getattr(node, parts[0]), parts[1:]
            elif isinstance(node, dict):
                # Keys may hold dots themselves (a backend named `qwen2.5-...`): take the longest that matches.
                for size in range(len(parts), 0, -1):
                    key = ".".join(parts[:size])
                    if key in node:
                        node, parts = node[key], parts[size:]
                        break
                else:
                    raise KeyError(dotted)
            else:
                raise KeyError(dotted)
        if isinstance(node, dict):  # e.g. models.llm.backends: plain mappings, as a graph YAML needs them
            return {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in node.items()}
        return node.model_dump() if isinstance(node, BaseModel) else node

    def llm_backend(self, name: str | None = None) -> LLMBackendSettings:
        return self.models.llm.backends[name or self.models.llm.default]


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{key}' (check its spelling)")
        elif item["type"] == "missing":
            lines.append(f"  - missing key '{key}'")
        else:
            lines.append(f"  - '{key}': {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def merge_patch(base: Any, patch: Any) -> Any:
    """`patch` applied to `base` as a JSON Merge Patch (RFC 7386): mappings merge, `null` removes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def read_config(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """
    The mapping a configuration file holds. A file with `extends: OTHER` (relative to itself) holds only what it
    changes in OTHER, applied as a JSON Merge Patch (`null` removes a key): deploy/hayhooks.production.yml.
    """
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `extends` loops back to a file it came from")
    if not path.is_file():
        raise ConfigError(f"Configuration file not found: {path} (set {CONFIG_ENV_VAR} to use another file)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (server, stores, models, retrieval)")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: `extends` must be the path of another configuration file")
    return merge_patch(read_config(path.parent / base, (*seen, path.resolve())), data)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the configuration file; raise `ConfigError` naming the faulty keys."""
    path = Path(path) if path is not None else config_path()
    data = read_config(path)
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(f"Invalid configuration in {path}:\n{_describe(e)}") from None
