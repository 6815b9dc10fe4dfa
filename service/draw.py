"""Draw the pipeline graphs offline: Graphviz (PNG/SVG) and Mermaid text.

Haystack's `Pipeline.draw()` and Hayhooks' `/draw/{name}` send the graph to the mermaid.ink web service, which
fails offline. This module draws the same networkx graph locally with Graphviz's `dot` (Debian package
`graphviz`) and writes Haystack's own Mermaid text next to it, so a diagram can be pasted in Markdown.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

from haystack import Pipeline
from haystack.core.pipeline.draw import _prepare_for_drawing, _to_mermaid_text

FORMATS = ("png", "svg")


class DrawingError(Exception):
    """Graphviz is missing or failed."""


def mermaid_text(pipeline: Pipeline) -> str:
    return _to_mermaid_text(pipeline.graph, init_params={"theme": "neutral"}).strip() + "\n"


def component_kind(instance: object) -> str:
    """A component's type name; for a wrapper around a retriever, the wrapped one's too (what really runs)."""
    kind = type(instance).__name__
    inner = getattr(instance, "retriever", None)
    if inner is not None and hasattr(inner, "__haystack_input__"):
        kind += f" → {type(inner).__name__}"
    return html.escape(kind)


def dot_source(pipeline: Pipeline, title: str) -> str:
    """The graph in Graphviz's DOT language: one box per component (name and type), labelled edges."""
    graph = _prepare_for_drawing(pipeline.graph.copy())
    lines = [
        "digraph pipeline {",
        f'  graph [rankdir=TB, label="{html.escape(title)}", labelloc=t, fontname="Helvetica", fontsize=16];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef4fb", color="#3498db", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10, color="#555555"];',
        '  "input" [shape=oval, fillcolor="#ffffff", label="input"];',
        '  "output" [shape=oval, fillcolor="#ffffff", label="output"];',
    ]
    for name, data in graph.nodes(data=True):
        if name in ("input", "output"):
            continue
        kind = component_kind(data["instance"])
        lines.append(f'  "{name}" [label=<<b>{html.escape(name)}</b><br/><font point-size="10">{kind}</font>>];')
    for sender, receiver, data in graph.edges(data=True):
        style = "" if data.get("mandatory", True) else ", style=dashed"
        label = html.escape(str(data.get("label", "")))
        lines.append(f'  "{sender}" -> "{receiver}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, fmt: str) -> bytes:
    """Render DOT source to PNG or SVG bytes with Graphviz."""
    if fmt not in FORMATS:
        raise DrawingError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    executable = shutil.which("dot")
    if executable is None:
        raise DrawingError("Graphviz is not installed: `apt-get install graphviz` (scripts/setup.sh does it)")
    done = subprocess.run([executable, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise DrawingError(f"Graphviz failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def write_drawings(name: str, pipeline: Pipeline, out_dir: Path) -> list[Path]:
    """Write `<name>.png`, `<name>.svg` and `<name>.mmd` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dot = dot_source(pipeline, name)
    written = []
    for fmt in FORMATS:
        path = out_dir / f"{name}.{fmt}"
        path.write_bytes(render(dot, fmt))
        written.append(path)
    path = out_dir / f"{name}.mmd"
    path.write_text(mermaid_text(pipeline), encoding="utf-8")
    written.append(path)
    return written
