"""Open WebUI (the pinned version scripts/setup_open_webui.sh installs) started against the service, and a page."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bench.served import ChildServer

OPEN_WEBUI_VERSION = "0.12.4"  # the same pin as scripts/setup_open_webui.sh
CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 420


def open_webui_venv() -> Path:
    tools = Path(os.environ.get("RAG_TOOLS_DIR", Path.home() / ".cache" / "btp-rag"))
    return tools / f"open-webui-{OPEN_WEBUI_VERSION}"


def environment(service_url: str, data_dir: Path) -> dict[str, str]:
    """What a user sets to connect Open WebUI to the service (docs/open-webui.md), plus test-only quiet."""
    return {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "OPENAI_API_BASE_URL": f"{service_url}/v1",
        "OPENAI_API_KEY": "unused-in-dev-mode",
        "ENABLE_OLLAMA_API": "False",
        # Open WebUI then tells the service who asks (X-OpenWebUI-* headers): the service leaves out the Markdown
        # sources footer, since Open WebUI lists the structured sources itself.
        "ENABLE_FORWARD_USER_INFO_HEADERS": "true",
        "WEBUI_AUTH": "False",
        "WEBUI_SECRET_KEY": secrets.token_hex(16),
        "OFFLINE_MODE": "True",
        "HF_HUB_OFFLINE": "1",
        "ENABLE_VERSION_UPDATE_CHECK": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "True",
    }


class OpenWebUI(ChildServer):
    """Open WebUI at `port`, connected to the service at `service_url`, once it answers `/health`."""

    def __init__(self, service_url: str, workdir: Path, port: int) -> None:
        binary = open_webui_venv() / "bin" / "open-webui"
        if not binary.is_file():
            raise RuntimeError(f"{binary} is missing: run `bash scripts/setup_open_webui.sh` (make test does)")
        self.url = f"http://127.0.0.1:{port}"
        (workdir / "owui-data").mkdir(parents=True, exist_ok=True)
        super().__init__(
            "open-webui",
            [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)],
            environment(service_url, workdir / "owui-data"),
            workdir / "open-webui.log",
            f"{self.url}/health",
            START_TIMEOUT,
            cwd=workdir,
            poll=2,
        )
