"""
The production stack in deploy/, checked offline: the Compose file against the compose-spec schema
(check-jsonschema's vendored copy), every Kubernetes manifest against the Kubernetes schemas (kubernetes-validate,
strict), and both against the service itself: the production configuration loads with the service's own settings,
every `RAG_*` variable the stack sets is a setting, the secrets are the variables the configuration names and come
from the environment, the probes are the service's public health routes, the ports and host names agree.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from pydantic import BaseModel

from service.cli import main as rag_cli
from service.gateway.health import add_health_routes
from service.settings import DEFAULT_CONFIG_PATH, PROJECT_ROOT, Settings, load_settings

pytestmark = pytest.mark.unit

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
PRODUCTION_CONFIG = DEPLOY / "hayhooks.production.yml"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.34.0"  # the oldest Kubernetes the manifests are meant for

# The keys where the production configuration may differ from the embedded default (hayhooks.yml); anything else
# drifting is a default changed in one file and not the other.
DEPLOYMENT_KEYS = {
    "server.host",
    "server.workers",
    "stores.mode",
    "stores.data_dir",
    "stores.qdrant.url",
    "stores.elasticsearch.hosts",
    "models.llm",
    "auth.mode",
    "auth.jwt",
    "access.rules",  # no `everyone` rule in production: who sees what is the deployment's to say
    "rate_limit.backend",
    "cache.backend",
    "redis.url",
    "indexing.upload_dir",
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))


def _manifests() -> list[Path]:
    return [KUBERNETES / name for name in _kustomization()["resources"]]


def _kubernetes(kind: str, name: str) -> dict[str, Any]:
    for path in _manifests():
        for doc in _documents(path):
            if doc["kind"] == kind and doc["metadata"].get("name") == name:
                return doc
    raise AssertionError(f"no {kind} {name} in {KUBERNETES}")


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"]


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _configmap_environment() -> dict[str, str]:
    return _kubernetes("ConfigMap", "rag-config")["data"]


def _compose_rag_environment() -> dict[str, str]:
    return _compose()["services"]["rag"]["environment"]


def _dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(item.split("=", 1) for item in shlex.split(line[4:])))
    return env


def _dockerfile_instruction(name: str) -> str:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return next(line[len(name) + 1 :] for line in text.splitlines() if line.startswith(f"{name} "))


@pytest.fixture
def site_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The RAG_* variables the Kubernetes ConfigMap sets, in the environment as a pod would have them."""
    for name, value in _configmap_environment().items():
        monkeypatch.setenv(name, value)
    return _configmap_environment()


@pytest.fixture
def production(site_environment: dict[str, str]) -> Settings:
    return load_settings(PRODUCTION_CONFIG)


# ---- schemas ---------------------------------------------------------------------------------------------------


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_compose_file_follows_the_compose_spec(tmp_path: Path) -> None:
    done = _check_compose(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check is real: a misspelt key is refused.
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("start_period:", "start_periode:"))
    assert _check_compose(broken).returncode == 1


@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_every_kubernetes_manifest_follows_the_kubernetes_schemas(path: Path) -> None:
    for doc in _documents(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_kubernetes_field_is_refused() -> None:
    deployment = _kubernetes("Deployment", "rag")
    container = _containers(deployment)[0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(_kustomization()["resources"]) == on_disk


# ---- the stack against the service's own settings -----------------------------------------------------------------


def test_the_production_config_loads_as_a_deployment(production: Settings) -> None:
    assert production.stores.mode == "servers"
    assert production.server.workers > 1
    assert production.auth.mode == "required"
    assert production.auth.jwt is not None
    assert production.auth.jwt.jwks_url == _configmap_environment()["RAG_AUTH__JWT__JWKS_URL"]
    assert (production.cache.backend, production.rate_limit.backend) == ("redis", "redis")
    assert production.models.llm.local is None  # the service never starts a vLLM of its own
    assert production.generation.tokenizer is None  # no local model folder to read in the image


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def test_the_production_config_changes_only_what_a_deployment_must() -> None:
    overlay = yaml.safe_load(PRODUCTION_CONFIG.read_text(encoding="utf-8"))
    assert overlay.pop("extends") == "../hayhooks.yml"  # every other value is the embedded default's
    changed = set(_flatten(overlay))

    def deployment_key(key: str) -> bool:
        return any(key == k or key.startswith(f"{k}.") for k in DEPLOYMENT_KEYS)

    assert {k for k in changed if not deployment_key(k)} == set()
    assert {k for k in DEPLOYMENT_KEYS if not any(deployment_key(c) and c.startswith(k) for c in changed)} == set()
    default, production = load_settings(DEFAULT_CONFIG_PATH), load_settings(PRODUCTION_CONFIG)
    assert production.retrieval == default.retrieval
    # the tokenizer is the local model's in the embedded default (derived, not configured); none in production
    assert production.generation.model_copy(update={"tokenizer": default.generation.tokenizer}) == default.generation
    assert set(production.models.llm.backends) == {"qwen2.5-7b-instruct"}  # `null` removed the local CPU models
    unconditional = [r.name for r in production.access.rules if r.filters is None and not (r.roles or r.groups)]
    assert unconditional == []  # every document for every caller: the demo's rule only


def _setting_exists(model: type[BaseModel], parts: list[str]) -> bool:
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    if len(parts) == 1:
        return True
    inner = [a for a in (*getattr(field.annotation, "__args__", ()), field.annotation) if isinstance(a, type)]
    return any(issubclass(a, BaseModel) and _setting_exists(a, parts[1:]) for a in inner)


def test_every_rag_variable_the_stack_sets_is_a_setting() -> None:
    names = set(_configmap_environment()) | set(_compose_rag_environment()) | set(_dockerfile_env())
    rag_names = {n for n in names if n.startswith("RAG_") and n != "RAG_CONFIG"}
    assert rag_names, "the stack sets no RAG_* variable"
    unknown = {n for n in rag_names if not _setting_exists(Settings, n.removeprefix("RAG_").lower().split("__"))}
    assert unknown == set()


def test_the_compose_site_values_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _compose_rag_environment().items():
        if name.startswith("RAG_"):  # `${NAME:-default}` -> default, `${NAME:?...}` -> an example value
            default = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
            monkeypatch.setenv(name, default.group(1) if default else "https://sso.example.fr/realms/btp")
    assert load_settings(PRODUCTION_CONFIG).auth.jwt is not None


def _secret_names(settings: Settings) -> set[str]:
    names = {settings.stores.qdrant.api_key_env, settings.stores.elasticsearch.api_key_env, settings.redis.password_env}
    return names | {backend.api_key_env for backend in settings.models.llm.backends.values()}


SECRET_NAME = re.compile(r"(KEY|PASSWORD|TOKEN|SECRET)$")


def _literal_secrets(node: Any) -> list[str]:
    """Variables named like a secret whose value is written in the file (not `${...}`, not a secretKeyRef)."""
    found: list[str] = []
    if isinstance(node, list):
        for item in node:
            found += _literal_secrets(item)
    elif isinstance(node, dict):
        if isinstance(node.get("name"), str) and SECRET_NAME.search(node["name"]) and "value" in node:
            found.append(node["name"])  # a Kubernetes env entry with a literal value
        for key, value in node.items():
            if SECRET_NAME.search(str(key)) and isinstance(value, str) and not value.startswith("${"):
                found.append(str(key))  # a Compose environment entry
            found += _literal_secrets(value)
    return found


def test_the_secrets_are_the_variables_the_config_names_and_come_from_the_environment(production: Settings) -> None:
    secrets = _secret_names(production)
    compose = _compose_rag_environment()
    assert secrets <= set(compose)
    for name in secrets:
        assert re.fullmatch(rf"\$\{{{name}:\?.*\}}", compose[name]), f"{name} must come from the environment"
    for workload in (_kubernetes("Deployment", "rag"),):
        env = {e["name"]: e for e in _containers(workload)[0]["env"]}
        assert secrets <= set(env)
        for name in secrets:
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "rag-secrets", "key": name}
    # No variable anywhere in the stack holds a secret written down, and no Secret is shipped.
    for path in [COMPOSE, *_manifests()]:
        assert _literal_secrets(_documents(path)) == [], path.name
        assert all(doc.get("kind") != "Secret" for doc in _documents(path)), f"{path.name} ships a Secret"


def test_the_probes_are_the_services_public_health_routes(production: Settings) -> None:
    app = FastAPI()
    add_health_routes(app, production, gateway=None)
    routes = {route.path for route in app.routes}
    container = _containers(_kubernetes("Deployment", "rag"))[0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] in routes
        assert http["path"] in production.auth.public_paths  # a probe has no credentials
        assert ports[http["port"]] == production.server.port
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    health = f"http://127.0.0.1:{production.server.port}/health"
    assert health in " ".join(_compose()["services"]["rag"]["healthcheck"]["test"])
    assert health in _dockerfile_instruction("HEALTHCHECK")


def test_the_ports_agree(production: Settings) -> None:
    port = production.server.port
    assert _dockerfile_instruction("EXPOSE") == str(port)
    assert all(p.endswith(f":{port}") for p in _compose()["services"]["rag"]["ports"])
    service = _kubernetes("Service", "rag")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert _containers(_kubernetes("Deployment", "rag"))[0]["ports"][0]["containerPort"] == port


def _served_model(arguments: list[str]) -> str:
    return arguments[arguments.index("--served-model-name") + 1]


def test_the_stack_serves_the_hosts_and_models_the_config_points_at(production: Settings) -> None:
    urls = [
        ("qdrant", production.stores.qdrant.url),
        ("elasticsearch", production.stores.elasticsearch.hosts),
        ("redis", production.redis.url),
        *(("vllm", b.base_url) for b in production.models.llm.backends.values()),
    ]
    compose = _compose()["services"]
    for name, url in urls:
        parsed = urlparse(url)
        assert parsed.hostname == name
        assert name in compose
        service_ports = [p["port"] for p in _kubernetes("Service", name)["spec"]["ports"]]
        assert parsed.port in service_ports
    models = {b.model for b in production.models.llm.backends.values()}
    assert {_served_model(compose["vllm"]["command"])} == models
    assert {_served_model(_containers(_kubernetes("Deployment", "vllm"))[0]["args"])} == models
    vllm = {e["name"] for e in _containers(_kubernetes("Deployment", "vllm"))[0]["env"]}
    assert {b.api_key_env for b in production.models.llm.backends.values()} <= vllm


def test_the_image_runs_the_real_entry_point_on_the_production_config(capsys: pytest.CaptureFixture[str]) -> None:
    env = _dockerfile_env()
    assert env["RAG_CONFIG"] == "/app/" + PRODUCTION_CONFIG.relative_to(PROJECT_ROOT).as_posix()
    assert "COPY . /app" in DOCKERFILE.read_text(encoding="utf-8")
    assert "exec rag serve --no-llm" in _dockerfile_instruction("CMD")
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'rag = "service.cli:main"' in pyproject
    commands = [
        _compose()["services"]["indexer"]["command"],
        _containers(_kubernetes("CronJob", "rag-index"))[0]["command"],
        ["rag", "serve", "--no-llm"],
    ]
    for command in commands:
        assert command[0] == "rag"
        with pytest.raises(SystemExit) as done:
            rag_cli([*command[1:], "--help"])
        assert done.value.code == 0, command
    assert "--no-llm" in capsys.readouterr().out


def test_every_worker_has_the_metrics_folder_the_image_names() -> None:
    folder = _dockerfile_env()["PROMETHEUS_MULTIPROC_DIR"]
    deployment = _kubernetes("Deployment", "rag")
    mounts = {m["mountPath"]: m["name"] for m in _containers(deployment)[0]["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts[folder]]  # per pod, emptied with it
