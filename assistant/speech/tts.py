"""Text-to-speech with Piper: audio comes out one sentence at a time, so the first plays early."""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.config import TtsConfig
from assistant.core.errors import SpeakError
from assistant.core.models import ResolvedModel

if TYPE_CHECKING:
    import onnxruntime
    from piper import PiperVoice

log = logging.getLogger(__name__)

KEPT_REPLIES = 32
"""Short replies kept as audio, the most recently said (about 100 KB each)."""
KEPT_CHARS = 120


@functools.cache
def _returning_arena() -> bool:
    """Register, once per process, the CPU memory arena Piper's session uses: one that grows by what
    is asked (not to the next power of two), so that shrinking it after a run gives it all back.

    With onnxruntime's default arena, Piper's memory grows with the longest sentence said and stays:
    98 MB after loading, 275-400 MB after two long sentences (30 words each), measured. With this
    arena, shrunk after each run (_ShrinkingSession), 91 MB; a short reply's synthesis took 138 ms
    against 126-132 ms, a long one's 8 % longer. Without any arena memory stays as low, but a short
    reply took 149 ms and a long one 30 % longer."""
    import onnxruntime

    try:
        onnxruntime.create_and_register_allocator(
            onnxruntime.OrtMemoryInfo(
                "Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, onnxruntime.OrtMemType.DEFAULT
            ),
            onnxruntime.OrtArenaCfg(0, 1, -1, -1),  # no cap; extend by what is asked (kSameAsRequested)
        )
    except Exception as e:  # noqa: BLE001  # an onnxruntime without it: its own arena, as before
        log.warning("Piper keeps onnxruntime's default memory arena (%s): its memory grows with long replies", e)
        return False
    return True


class _ShrinkingSession:
    """Piper's ONNX session, whose memory arena is shrunk at the end of each run (onnxruntime's
    `memory.enable_memory_arena_shrinkage`): what a long sentence needed goes back to the system."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        import onnxruntime

        self.session = session
        self.options = onnxruntime.RunOptions()
        self.options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self.session.run(output_names, input_feed, run_options or self.options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def _load_voice(path: Path, use_cuda: bool) -> PiperVoice:
    """Piper's voice, its session made here (PiperVoice.load makes one with default options)."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
    options = onnxruntime.SessionOptions()
    if not use_cuda and _returning_arena():
        options.add_session_config_entry("session.use_env_allocators", "1")
    providers: list[Any] = (
        [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})] if use_cuda else ["CPUExecutionProvider"]
    )
    session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    return PiperVoice(session=_ShrinkingSession(session) if not use_cuda else session, config=config)


class Synthesizer:
    def __init__(self, model: ResolvedModel, config: TtsConfig) -> None:
        from piper import SynthesisConfig

        try:
            self._voice = _load_voice(model.path, config.use_cuda)
        except Exception as e:
            raise SpeakError(f"Piper voice {model.path} could not be loaded: {e}") from e
        self._syn = SynthesisConfig(
            length_scale=config.length_scale, noise_scale=config.noise_scale, noise_w_scale=config.noise_w_scale
        )
        self.rate: int = self._voice.config.sample_rate
        self._kept: OrderedDict[str, list[np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        """int16 audio, one array per sentence, produced lazily. A short reply said before (the
        apology for a request nothing understood) comes from memory at once."""
        with self._lock:
            kept = self._kept.get(text)
            if kept is not None:
                self._kept.move_to_end(text)
        if kept is not None:
            yield from kept
            return
        made: list[np.ndarray] = []
        try:
            for chunk in self._voice.synthesize(text, syn_config=self._syn):
                made.append(chunk.audio_int16_array)
                yield chunk.audio_int16_array
        except Exception as e:
            raise SpeakError(f"speech synthesis failed: {e}") from e
        if len(text) <= KEPT_CHARS:  # only once the whole reply was made, not when the listener cut it
            with self._lock:
                self._kept[text] = made
                while len(self._kept) > KEPT_REPLIES:
                    self._kept.popitem(last=False)

    def prepare(self, texts: Iterable[str]) -> None:
        """Synthesize these replies now, so that saying them later costs nothing."""
        for text in texts:
            for _ in self.sentences(text):
                pass

    def warm_up(self) -> None:
        for _ in self.sentences("Ready."):
            pass
