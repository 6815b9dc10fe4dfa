"""The embedded default's LLM: a local vLLM (CPU) server, reached only through its OpenAI API.

`ensure_local_llm` starts it with `scripts/start_llm.sh` when the configured backend does not answer yet, and
waits for it, printing progress. Production points `models.llm.backends` at GPU vLLM servers instead and sets
`models.llm.local.enabled: false`.
"""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from service.settings import PROJECT_ROOT, Settings

START_SCRIPT = PROJECT_ROOT / "scripts" / "start_llm.sh"


class LocalLLMError(Exception):
    """The local LLM could not be started."""


def llm_answers(base_url: str, model: str, timeout: float = 3.0) -> bool:
    """Whether an OpenAI-compatible server at `base_url` serves `model`."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout)
        response.raise_for_status()
        return any(m.get("id") == model for m in response.json().get("data", []))
    except (httpx.HTTPError, ValueError):
        return False


def ensure_local_llm(settings: Settings) -> None:
    """Start the configured local vLLM unless it already answers; return when it is ready."""
    local = settings.models.llm.local
    if local is None or not local.enabled:
        return
    backend = settings.llm_backend(local.backend)
    if llm_answers(backend.base_url, backend.model):
        print(f"LLM '{backend.model}' already answering at {backend.base_url}", flush=True)
        return
    model_dir = settings.resolve_path(local.model_dir)
    if not (model_dir / "config.json").is_file():
        raise LocalLLMError(f"No model at {model_dir}: run `make setup` (scripts/setup_llm.sh) first")
    env = {
        **os.environ,
        "LLM_PORT": str(local.port),
        "LLM_MODEL_NAME": backend.model,
        "LLM_MODEL_DIR": str(model_dir),
        "LLM_MAX_MODEL_LEN": str(local.max_model_len),
        "LLM_START_TIMEOUT": str(int(local.start_timeout)),
    }
    print(f"Starting the local LLM '{backend.model}' (vLLM, CPU) on port {local.port}...", flush=True)
    started = time.monotonic()
    done = subprocess.run(["bash", str(START_SCRIPT)], env=env, check=False)
    if done.returncode != 0 or not llm_answers(backend.base_url, backend.model):
        raise LocalLLMError(f"The local LLM did not become ready (see var/log/vllm.log), exit {done.returncode}")
    print(f"LLM ready after {time.monotonic() - started:.0f} s", flush=True)
