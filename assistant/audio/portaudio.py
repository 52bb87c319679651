"""PortAudio through sounddevice: loading it, and closing its streams without hanging.

PortAudio's ALSA backend can leave its callback thread spinning after the device went away (seen
with a PulseAudio device unloaded and loaded again on a loaded machine: the thread prints
"Expression 'self->capture.ready || self->playback.ready' failed" forever). Closing such a stream
joins that thread, so a plain `close()` never returns: the voice loop froze and `assistant run`
ignored SIGTERM. Streams are closed here in a daemon thread that is waited for a bounded time; a
stream that does not close is left to the process's exit, which does not wait for daemon threads.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Any, cast

from assistant.core.errors import AudioDeviceError

log = logging.getLogger(__name__)

NO_SOUND_CARD = (
    "no microphone found (this machine has no sound card?): "
    "use a file instead: assistant run --audio-in command.wav --audio-out reply.wav"
)
CLOSE_WAIT_S = 3.0
"""How long closing a stream may take before it is left behind (a healthy close takes milliseconds)."""


def sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as e:  # PortAudio itself is missing
        raise AudioDeviceError("PortAudio is not installed (apt-get install libportaudio2); " + NO_SOUND_CARD) from e
    return cast(ModuleType, sounddevice)  # it ships no types


def close_stream(stream: Any, what: str, drain: bool = False, wait_s: float | None = None) -> bool:
    """Close a sounddevice stream, waiting at most `wait_s` (CLOSE_WAIT_S by default); True when it
    closed. With `drain`, what is still queued plays out first; without, it is dropped. Errors from a
    device that is already gone are expected (it is closed for us then) and only logged."""

    def close() -> None:
        try:
            if drain:
                stream.stop(ignore_errors=True)
            stream.close(ignore_errors=True)
        except Exception as e:
            log.info("closing the %s: %s", what, e)

    closer = threading.Thread(target=close, name=f"close {what}", daemon=True)
    closer.start()
    wait_s = CLOSE_WAIT_S if wait_s is None else wait_s
    closer.join(wait_s)
    if closer.is_alive():
        log.warning(
            "the %s did not close within %.0f s: its sound driver is stuck and may keep using the CPU; "
            "restart the assistant to free it (systemctl --user restart assistant)",
            what,
            wait_s,
        )
        return False
    return True
