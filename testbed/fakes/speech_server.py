"""A bigger machine's speech services for tests: this assistant's own Wyoming server (speech-to-text
and text-to-speech on the real models), printing one line per request it serves so a test can tell
who answered:

    python -m testbed.fakes.speech_server --port 10300
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.app.runtime import load_speech_models
from assistant.core.config import load_config
from assistant.speech.stt import SpeechHints
from assistant.wyoming.server import Stages, WyomingServer


class Told:
    """Wraps a model: says on stdout what it was asked."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.rate = getattr(model, "rate", None)

    def transcribe(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> str:
        text = self.model.transcribe(pcm, hints)
        print(f"asr {text}", flush=True)
        return str(text)

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        print(f"tts {text}", flush=True)
        yield from self.model.sentences(text)


async def main_async(port: int) -> None:
    config = load_config(environ={})
    models = await load_speech_models(config)

    async def handle(text: str) -> str:
        return ""

    stages = Stages(
        config,
        Told(models.transcriber),
        Told(models.synthesizer),
        lambda: models.wake,
        handle,  # type: ignore[arg-type]
        SpeechHints,
    )
    server = WyomingServer(stages, "0.0.0.0", port)
    await server.start()
    print(f"listening on {port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=10300)
    asyncio.run(main_async(ap.parse_args(argv).port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
