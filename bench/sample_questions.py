"""Retrieval on the shipped sample corpus: does each reference question find its one source document?

Indexes samples/corpus into a temporary data dir through the project's indexing graph, runs the rag graph's
retrieval half for each question of samples/questions.yml that has an expected source, and prints top-1 and top-5
hits with the metadata booster on and off (the graph's other settings as in hayhooks.yml).

    OMP_NUM_THREADS=1 .venv/bin/python bench/sample_questions.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rag-sample-") as tmp:
        config = Path(tmp) / "hayhooks.yml"
        data = yaml.safe_load((ROOT / "hayhooks.yml").read_text(encoding="utf-8"))
        data["stores"]["data_dir"] = str(Path(tmp) / "data")
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        os.environ["RAG_CONFIG"] = str(config)
        subprocess.run([sys.executable, "-m", "service", "index", str(ROOT / "samples" / "corpus")], check=True)

        # Imported after RAG_CONFIG is set: the graph reads the temporary configuration.
        from service.answering import rag_inputs  # noqa: PLC0415
        from service.pipelines import build_pipeline  # noqa: PLC0415
        from service.settings import load_settings  # noqa: PLC0415

        reference = yaml.safe_load((ROOT / "samples" / "questions.yml").read_text(encoding="utf-8"))
        questions = [q for q in reference if q["expected_source"]]
        pipeline = build_pipeline("rag", load_settings())
        pipeline.warm_up()
        booster = pipeline.get_component("metadata_booster")
        print(f"{'metadata booster':<18}{'top-1':>8}{'top-5':>8}")
        for enabled in (True, False):
            booster.enabled = enabled
            top1 = top5 = 0
            for q in questions:
                out = pipeline.run(rag_inputs(q["question"], None), include_outputs_from={"ranker"})
                sources = [d.meta.get("source") for d in out["ranker"]["documents"]]
                top1 += bool(sources) and sources[0] == q["expected_source"]
                top5 += q["expected_source"] in sources[:5]
            n = len(questions)
            print(f"{'on' if enabled else 'off':<18}{f'{top1}/{n}':>8}{f'{top5}/{n}':>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
