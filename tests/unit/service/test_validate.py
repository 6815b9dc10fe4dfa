from pathlib import Path

import pytest
import yaml

from service.pipelines import pipeline_yaml_path, read_definition
from service.settings import DEFAULT_CONFIG_PATH, load_settings
from service.validate import validate_all

pytestmark = pytest.mark.unit

BUILDER = "components.builders.conversation_builder.ConversationBuilder"
ANSWER = "components.builders.cited_answer_builder.CitedAnswerBuilder"

GRAPHS = {
    "good": {
        "components": {
            "conversation_builder": {"type": BUILDER, "init_parameters": {"system_prompt": "${prompt:chat_system}"}},
            "answer_builder": {"type": ANSWER, "init_parameters": {}},
        },
        "connections": [{"sender": "conversation_builder.prompt", "receiver": "answer_builder.replies"}],
    },
    "unknown_type": {"components": {"mystere": {"type": "components.builders.nope.Inconnu", "init_parameters": {}}}},
    "bad_connection": {
        "components": {
            "conversation_builder": {"type": BUILDER, "init_parameters": {"system_prompt": "Bonjour"}},
            "answer_builder": {"type": ANSWER, "init_parameters": {}},
        },
        "connections": [{"sender": "conversation_builder.prompt", "receiver": "answer_builder.question"}],
    },
    "missing_prompt": {
        "components": {
            "conversation_builder": {"type": BUILDER, "init_parameters": {"system_prompt": "${prompt:absent}"}}
        }
    },
    "missing_env": {
        "components": {
            "conversation_builder": {"type": BUILDER, "init_parameters": {"system_prompt": "${env:BTP_RAG_TEST_UNSET}"}}
        }
    },
    "typo_in_module": {
        "components": {"mystere": {"type": "component.builders.conversation_builder.ConversationBuilder"}}
    },
}


@pytest.fixture
def findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Validate a folder of small graphs, through a copy of hayhooks.yml named by RAG_CONFIG."""
    graphs = tmp_path / "pipelines"
    for name, definition in GRAPHS.items():
        (graphs / name).mkdir(parents=True)
        (graphs / name / f"{name}.yml").write_text(yaml.safe_dump(definition), encoding="utf-8")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    config["server"]["pipelines_dir"] = str(graphs)
    config["stores"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "hayhooks.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("RAG_CONFIG", str(tmp_path / "hayhooks.yml"))
    monkeypatch.delenv("BTP_RAG_TEST_UNSET", raising=False)
    return {finding.pipeline: finding for finding in validate_all(load_settings())}


def test_validate_finds_every_graph(findings):
    assert sorted(findings) == sorted(GRAPHS)


def test_validate_good_graph(findings):
    assert findings["good"].ok
    assert findings["good"].message == "2 components, 1 connections"


def test_validate_unknown_component_type(findings):
    finding = findings["unknown_type"]
    assert not finding.ok
    assert finding.message.startswith("unknown_type.yml: unknown or disallowed component type")
    assert "components.builders.nope.Inconnu" in finding.message
    assert "mystere" in finding.message


def test_validate_bad_connection(findings):
    finding = findings["bad_connection"]
    assert not finding.ok
    assert finding.message.startswith("bad_connection.yml:")
    assert "answer_builder.question does not exist" in finding.message
    assert "replies" in finding.message  # the sockets that do exist are listed


def test_validate_missing_prompt(findings):
    finding = findings["missing_prompt"]
    assert not finding.ok
    assert finding.message == "missing_prompt.yml: prompt file not found: prompts/absent.jinja2"


def test_validate_missing_env_var(findings):
    finding = findings["missing_env"]
    assert not finding.ok
    assert finding.message.startswith("missing_env.yml: components.conversation_builder.init_parameters.system_prompt")
    assert "environment variable BTP_RAG_TEST_UNSET is not set" in finding.message


def test_validate_the_repository_graphs(settings):
    findings = validate_all(settings)
    assert [f.pipeline for f in findings] == ["chat", "indexing", "question_rewrite", "rag"]
    assert all(f.ok for f in findings), [f.message for f in findings if not f.ok]
    rag = next(f for f in findings if f.pipeline == "rag")
    raw = read_definition(pipeline_yaml_path("rag", settings))
    assert rag.message == f"{len(raw['components'])} components, {len(raw['connections'])} connections"


def test_validate_type_in_an_unknown_module(findings):
    finding = findings["typo_in_module"]
    assert not finding.ok
    assert "unknown or disallowed component type" in finding.message
