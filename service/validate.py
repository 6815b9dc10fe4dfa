"""Check every graph in `pipelines/` without running it, and say what is wrong in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from service.pipelines import PipelineDefinitionError, build_pipeline, list_pipeline_names
from service.settings import Settings


@dataclass
class Finding:
    pipeline: str
    ok: bool
    message: str


def validate_all(settings: Settings) -> list[Finding]:
    """Load each graph (references resolved, backends bound, components instantiated, edges checked)."""
    findings = []
    for name in list_pipeline_names(settings):
        try:
            pipeline = build_pipeline(name, settings)
        except PipelineDefinitionError as e:
            findings.append(Finding(name, False, str(e)))
            continue
        summary = f"{len(pipeline.graph.nodes)} components, {len(pipeline.graph.edges)} connections"
        findings.append(Finding(name, True, summary))
    return findings
