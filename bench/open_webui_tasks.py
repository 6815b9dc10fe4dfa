"""What Open WebUI's background requests cost the embedded default, before and after the service recognised them.

After each user message Open WebUI asks the chat's model for a title, tags and follow-up suggestions (prompts that
start `### Task:`; `ENABLE_TITLE_GENERATION`, `ENABLE_TAGS_GENERATION`, `ENABLE_FOLLOW_UP_GENERATION` are on by
default). The service answers them itself, without retrieval or LLM (`service/openai_chat.py`, mode `task`).
This benchmark sends Open WebUI 0.12.4's own templates (read from its installed `open_webui/config.py`, see
`scripts/setup_open_webui.sh`; no import, no side effect), filled with a two-turn conversation, to a service it
starts on the indexed data (`rag serve --no-llm`: the local vLLM must already run, `make llm`):

- **after**: as Open WebUI sends them (recognised: mode `task`);
- **before**: the same prompts not recognised (what the service did before, and what any RAG service does): each
  one a RAG answer (retrieval, prompt, the local LLM).

It prints, per request kind, the wall time and the CPU seconds spent by the service and by the local vLLM (every
process whose command line names vLLM), from /proc. Run it on an otherwise idle machine.

    .venv/bin/python bench/open_webui_tasks.py [--data-dir var/data] [--repeat 2] [--no-answerability]

With the answerability check on (the default), an unrecognised task prompt is mostly refused before the LLM (its
words are not the documents'); `--no-answerability` shows what it costs when it is not.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import ServedCopy, base_config, free_port  # noqa: E402

OPEN_WEBUI = Path(os.environ.get("RAG_TOOLS_DIR", Path.home() / ".cache" / "btp-rag")) / "open-webui-0.12.4"
TEMPLATES = {
    "title": "DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE",
    "tags": "DEFAULT_TAGS_GENERATION_PROMPT_TEMPLATE",
    "follow_ups": "DEFAULT_FOLLOW_UP_GENERATION_PROMPT_TEMPLATE",
}
CONVERSATION = (
    "USER: Quel est le montant total HT du marché de l'affaire A2458 ?\n"
    "ASSISTANT: Le montant total HT du marché de l'affaire A2458 est de 631 592,50 € HT [1]."
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def open_webui_templates() -> dict[str, str]:
    """Open WebUI's default task prompts, read from its source (its installed config.py) without importing it."""
    found = list(OPEN_WEBUI.glob("lib/python3*/site-packages/open_webui/config.py"))
    if not found:
        raise SystemExit(f"Open WebUI is not installed in {OPEN_WEBUI}: run scripts/setup_open_webui.sh")
    tree = ast.parse(found[0].read_text(encoding="utf-8"))
    values = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    return {kind: fill(values[name]) for kind, name in TEMPLATES.items()}


def fill(template: str) -> str:
    """The template as Open WebUI sends it: its `{{MESSAGES:...}}` placeholder replaced by the conversation."""
    out, start = [], 0
    while (i := template.find("{{MESSAGES", start)) >= 0:
        out.append(template[start:i])
        out.append(CONVERSATION)
        start = template.index("}}", i) + 2
    return "".join(out) + template[start:]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def vllm_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().lower()
            except OSError:
                continue
            if b"vllm" in command:
                pids.append(int(entry.name))
    return pids


def measure(url: str, service_pid: int, prompt: str, model: str = "rag") -> tuple[float, float, float, str]:
    """(wall s, service CPU s, vLLM CPU s, mode) of one chat completion."""
    llm = vllm_pids()
    cpu0, llm0, t0 = cpu_seconds([service_pid]), cpu_seconds(llm), time.monotonic()
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=900)
    response.raise_for_status()
    wall = time.monotonic() - t0
    return wall, cpu_seconds([service_pid]) - cpu0, cpu_seconds(llm) - llm0, response.headers.get("x-rag-mode", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="an indexed data folder (default: stores.data_dir)")
    parser.add_argument("--repeat", type=int, default=2, help="requests per kind and case (medians reported)")
    parser.add_argument(
        "--no-answerability",
        action="store_true",
        help="answerability check off: the unrecognised prompts reach the LLM (the service before that check)",
    )
    args = parser.parse_args()
    templates = open_webui_templates()
    config = base_config()
    config["server"]["port"] = free_port()
    config["cache"]["backend"] = "off"  # every request computed: the cache would hide the second one
    config["logging"]["access_log"] = False
    config["generation"]["answerability"]["enabled"] = not args.no_answerability
    with tempfile.TemporaryDirectory(prefix="owui-tasks-") as workdir:
        served = ServedCopy(config, args.data_dir or config["stores"]["data_dir"], Path(workdir))
        try:
            rows = []
            for kind, prompt in templates.items():
                for case, text in (("after", prompt), ("before", f"Tâche :\n{prompt}")):
                    runs = [measure(served.url, served.process.pid, text) for _ in range(args.repeat)]
                    modes = {r[3] for r in runs}
                    rows.append(
                        (
                            kind,
                            case,
                            "/".join(sorted(modes)),
                            *(statistics.median(r[i] for r in runs) for i in range(3)),
                        )
                    )
        finally:
            served.stop()
    print("\n| request (Open WebUI 0.12.4 template) | recognised | mode | wall s | service CPU s | vLLM CPU s |")
    print("|---|---|---|---|---|---|")
    for kind, case, mode, wall, cpu, llm in rows:
        recognised = "yes (after)" if case == "after" else "no (before)"
        print(f"| {kind} | {recognised} | {mode} | {wall:.2f} | {cpu:.3f} | {llm:.2f} |")
    for case in ("after", "before"):
        picked = [r for r in rows if r[1] == case]
        print(
            f"per user message ({case}): {sum(r[3] for r in picked):.2f} s wall, "
            f"{sum(r[4] for r in picked):.3f} s service CPU, {sum(r[5] for r in picked):.2f} s vLLM CPU"
        )


if __name__ == "__main__":
    main()
