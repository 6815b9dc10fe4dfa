"""A stand-in LLM for integration tests whose subject is not the answers: an OpenAI-compatible server on
127.0.0.1 answering every chat completion with the same reply, counting the calls (the real local vLLM is exercised
by test_generation.py and test_gateway.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.conftest import free_port

STUB_MODEL = "stub-llm"
STUB_REPLY = "Le montant du marché est indiqué dans le document [1]."


class StubLLM:
    """An OpenAI-compatible server answering every chat completion with the same reply; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": STUB_MODEL, "object": "model"}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                stub.calls += 1
                self._json(
                    {
                        "id": "stub",
                        "object": "chat.completion",
                        "created": 0,
                        "model": STUB_MODEL,
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": STUB_REPLY},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def stub_llm_settings(llm: StubLLM) -> dict[str, Any]:
    """`models.llm` pointing at the stub, with no local vLLM."""
    return {
        "default": STUB_MODEL,
        "backends": {STUB_MODEL: {"base_url": llm.base_url, "model": STUB_MODEL, "timeout": 30}},
        "local": None,
    }
