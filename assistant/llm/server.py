"""An OpenAI-compatible chat endpoint (llama.cpp's server, Ollama) on a bigger machine."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from assistant.core.errors import LLMError, LLMUnreachable


class ChatServer:
    """POSTs to /v1/chat/completions. A server that does not answer is `LLMUnreachable` (the failover
    moves to the local model); one that answers badly is `LLMError`."""

    def __init__(self, url: str, model: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/chat/completions") else "/v1/chat/completions")
        self.model = model
        self.timeout_s = timeout_s

    def chat(self, system: str, user: str, *, max_tokens: int, timeout_s: float | None = None, **more: Any) -> str:
        """The first choice's message text for one system and one user message, greedily; `more`
        goes into the request body as it is (response_format, stop)."""
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            **more,
        }
        request = urllib.request.Request(self.url, json.dumps(body).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s if timeout_s is None else timeout_s) as answer:
                data = json.load(answer)
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise LLMUnreachable(f"the LLM server at {self.url} did not answer: {e}") from e
        except json.JSONDecodeError as e:
            raise LLMError(f"the LLM server at {self.url} answered something that is not JSON") from e
        try:
            return str(data["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as e:
            raise LLMError(f"the LLM server at {self.url} answered without a message") from e
