import re
import shutil

import pytest

from service.draw import DrawingError, dot_source, mermaid_text, render, write_drawings
from service.pipelines import pipeline_yaml_path, read_definition
from service.settings import DEFAULT_CONFIG_PATH, load_settings

pytestmark = pytest.mark.unit

needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


@pytest.fixture(scope="module")
def rag_yaml() -> dict:
    return read_definition(pipeline_yaml_path("rag", load_settings(DEFAULT_CONFIG_PATH)))


def test_dot_source_has_every_node_with_its_type(rag_pipeline, rag_yaml):
    dot = dot_source(rag_pipeline, "rag")
    assert dot.startswith("digraph pipeline {")
    assert 'label="rag"' in dot
    for name in rag_yaml["components"]:
        kind = type(rag_pipeline.get_component(name)).__name__
        assert f'"{name}" [label=<<b>{name}</b><br/><font point-size="10">{kind}' in dot


def test_dot_source_names_the_retriever_a_wrapper_runs(rag_pipeline):
    dot = dot_source(rag_pipeline, "rag")
    wrapped = type(rag_pipeline.get_component("dense_retriever").retriever).__name__
    assert f"FaultTolerantRetriever → {wrapped}" in dot


def test_dot_source_has_every_connection_labelled(rag_pipeline, rag_yaml):
    dot = dot_source(rag_pipeline, "rag")
    for connection in rag_yaml["connections"]:
        sender, output = connection["sender"].split(".")
        receiver, socket = connection["receiver"].split(".")
        # Haystack labels edges into optional sockets "(opt.)"
        assert re.search(rf'"{sender}" -> "{receiver}" \[label="{output} -&gt; {socket}( \(opt\.\))?"', dot)


def test_dot_source_shows_the_graph_inputs_and_outputs(rag_pipeline):
    dot = dot_source(rag_pipeline, "rag")
    assert '"input" -> "ranker" [label="query"];' in dot
    assert '"answer_builder" -> "output" [label="answer"];' in dot


def test_dot_source_escapes_the_title(rag_pipeline):
    assert 'label="a &lt;b&gt; &amp; &quot;c&quot;"' in dot_source(rag_pipeline, 'a <b> & "c"')


def test_render_unknown_format():
    with pytest.raises(DrawingError, match="unknown format 'gif'"):
        render("digraph { a -> b }", "gif")


@needs_graphviz
def test_render_png(rag_pipeline):
    assert render(dot_source(rag_pipeline, "rag"), "png").startswith(b"\x89PNG\r\n\x1a\n")


@needs_graphviz
def test_render_svg(rag_pipeline):
    svg = render(dot_source(rag_pipeline, "rag"), "svg").decode()
    assert "<svg" in svg
    assert "answer_builder" in svg
    assert "CitedAnswerBuilder" in svg


@needs_graphviz
def test_render_invalid_dot_raises():
    with pytest.raises(DrawingError, match="Graphviz failed"):
        render("digraph { a -> ", "svg")


def test_render_without_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DrawingError, match="Graphviz is not installed"):
        render("digraph { a -> b }", "png")


def test_mermaid_text_mentions_every_node(rag_pipeline, rag_yaml):
    text = mermaid_text(rag_pipeline)
    assert text.endswith("\n")
    for name in rag_yaml["components"]:
        assert f"<b>{name}</b>" in text


@needs_graphviz
def test_write_drawings(rag_pipeline, tmp_path):
    written = write_drawings("rag", rag_pipeline, tmp_path / "drawings")
    assert [p.name for p in written] == ["rag.png", "rag.svg", "rag.mmd"]
    assert written[0].read_bytes().startswith(b"\x89PNG")
    assert written[2].read_text(encoding="utf-8") == mermaid_text(rag_pipeline)
