from pathlib import Path

import pytest
import yaml

from service.settings import DEFAULT_CONFIG_PATH, PROJECT_ROOT, ConfigError, Settings, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def raw() -> dict:
    """The repository's hayhooks.yml as plain data, to edit and write elsewhere."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def write_config(tmp_path):
    def write(data: dict) -> Path:
        path = tmp_path / "hayhooks.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return write


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_load_repo_config(raw):
    settings = load_settings(DEFAULT_CONFIG_PATH)
    assert isinstance(settings, Settings)
    assert settings.server.model_dump() == raw["server"]
    assert settings.retrieval.model_dump() == raw["retrieval"]
    assert settings.stores.mode == raw["stores"]["mode"]
    assert settings.models.embedder.model == raw["models"]["embedder"]["model"]
    assert settings.models.llm.default in settings.models.llm.backends


def test_load_reads_the_file_named_by_rag_config(raw, write_config, monkeypatch):
    raw["retrieval"]["top_k"] = 11
    monkeypatch.setenv("RAG_CONFIG", str(write_config(raw)))
    assert load_settings().retrieval.top_k == 11


@pytest.mark.parametrize("key", ["models.embedder.model", "models.embedder.dimension", "models.ranker.model", "models"])
def test_missing_required_key_is_named(raw, write_config, key):
    *parents, last = key.split(".")
    section = raw
    for part in parents:
        section = section[part]
    del section[last]
    assert f"missing key '{key}'" in _error(write_config(raw))


@pytest.mark.parametrize(("section", "key"), [("retrieval", "topk"), ("stores.qdrant", "adress"), ("", "retrival")])
def test_unknown_key_is_named(raw, write_config, section, key):
    target = raw
    for part in filter(None, section.split(".")):
        target = target[part]
    target[key] = 3
    full = f"{section}.{key}" if section else key
    assert f"unknown key '{full}'" in _error(write_config(raw))


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("retrieval", "top_k", "beaucoup"), ("server", "port", 70000), ("stores", "mode", "cloud")],
)
def test_wrong_type_or_value_is_named(raw, write_config, section, key, value):
    raw[section][key] = value
    message = _error(write_config(raw))
    assert f"'{section}.{key}'" in message
    assert repr(value) in message


def test_default_llm_must_be_a_backend(raw, write_config):
    raw["models"]["llm"]["default"] = "mistral-inexistant"
    message = _error(write_config(raw))
    assert "models.llm" in message
    assert "mistral-inexistant" in message


def test_missing_file_gives_a_clear_error(tmp_path):
    missing = tmp_path / "absent.yml"
    message = _error(missing)
    assert "not found" in message
    assert str(missing) in message
    assert "RAG_CONFIG" in message


@pytest.mark.parametrize(("text", "words"), [("server: [127.0.0.1", "not valid YAML"), ("- a\n- b\n", "mapping")])
def test_unreadable_file_gives_a_clear_error(tmp_path, text, words):
    path = tmp_path / "hayhooks.yml"
    path.write_text(text, encoding="utf-8")
    assert words in _error(path)


def test_environment_overrides_the_file(raw, monkeypatch):
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("RAG_STORES__QDRANT__URL", "http://qdrant.interne:6333")
    settings = load_settings(DEFAULT_CONFIG_PATH)
    assert settings.retrieval.top_k == 7
    assert settings.stores.qdrant.url == "http://qdrant.interne:6333"
    # the keys the environment does not name keep the file's values
    assert settings.retrieval.dense_top_k == raw["retrieval"]["dense_top_k"]
    assert settings.stores.qdrant.index == raw["stores"]["qdrant"]["index"]
    assert settings.stores.mode == raw["stores"]["mode"]


def test_invalid_environment_override_is_named(monkeypatch):
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "0")
    assert "'retrieval.top_k'" in _error(DEFAULT_CONFIG_PATH)


def test_lookup():
    settings = load_settings(DEFAULT_CONFIG_PATH)
    default = settings.models.llm.backends[settings.models.llm.default]
    assert settings.lookup("llm.base_url") == default.base_url
    assert settings.lookup("llm.max_tokens") == default.max_tokens
    assert settings.lookup("retrieval.top_k") == settings.retrieval.top_k
    assert settings.lookup("retrieval") == settings.retrieval.model_dump()
    assert settings.llm_backend() is default


@pytest.mark.parametrize("key", ["retrieval.nope", "nope", "llm.nope", "llm", "retrieval.top_k.deeper"])
def test_lookup_of_an_unknown_key_raises_key_error(key):
    with pytest.raises(KeyError):
        load_settings(DEFAULT_CONFIG_PATH).lookup(key)


def test_resolve_path(tmp_path):
    settings = load_settings(DEFAULT_CONFIG_PATH)
    assert settings.resolve_path("var/data") == PROJECT_ROOT / "var" / "data"
    assert settings.resolve_path(str(tmp_path / "data")) == tmp_path / "data"
    assert settings.resolve_path("~/rag") == Path.home() / "rag"


def test_lookup_of_a_backend_by_its_full_key():
    settings = load_settings(DEFAULT_CONFIG_PATH)
    name = settings.models.llm.default
    assert settings.lookup(f"models.llm.backends.{name}.base_url") == settings.lookup("llm.base_url")


def test_reranking_more_than_the_fused_candidates_is_refused(raw, write_config):
    raw["retrieval"]["rerank"] |= {"enabled": True, "top_n": 40}
    raw["retrieval"]["fusion"]["top_k"] = 20
    message = _error(write_config(raw))
    assert "rerank.top_n (40)" in message
    assert "fusion.top_k (20)" in message
    raw["retrieval"]["fusion"]["top_k"] = 40
    assert load_settings(write_config(raw)).retrieval.rerank.top_n == 40


def test_a_file_that_extends_another_changes_only_what_it_says(tmp_path):

    (tmp_path / "site.yml").write_text(
        f"extends: {DEFAULT_CONFIG_PATH}\n"
        "server: {workers: 3}\n"
        "models: {llm: {backends: {qwen2.5-coder-0.5b-instruct: null}}}\n",
        encoding="utf-8",
    )
    site, default = load_settings(tmp_path / "site.yml"), load_settings(DEFAULT_CONFIG_PATH)
    assert site.server.workers == 3
    assert site.server.port == default.server.port  # merged key by key, not replaced
    assert set(site.models.llm.backends) == set(default.models.llm.backends) - {"qwen2.5-coder-0.5b-instruct"}
    assert site.retrieval == default.retrieval


def test_extends_that_loops_is_a_clear_error(tmp_path):

    (tmp_path / "a.yml").write_text("extends: b.yml\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("extends: a.yml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="loops back"):
        load_settings(tmp_path / "a.yml")
