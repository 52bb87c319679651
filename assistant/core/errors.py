"""One error class per stage, each with a stable code and a message a person can act on."""

from __future__ import annotations


def shown(value: object) -> str:
    """A name from outside (a config key) as written, or escaped when it holds a line break or other
    control characters, so the message it goes into stays one line."""
    text = str(value)
    return text if text.isprintable() else repr(text)[1:-1]


class AssistantError(Exception):
    """Base of every error the assistant reports to a person. `str()` is the one-line message."""

    code = "assistant_error"
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(AssistantError):
    code = "config"
    exit_code = 2


class ModelNotFoundError(AssistantError):
    code = "model_not_found"


class AudioInputError(AssistantError):
    """A WAV file or microphone stream that cannot be read."""

    code = "audio_input"
    exit_code = 2


class AudioDeviceError(AssistantError):
    """No usable microphone or speaker."""

    code = "audio_device"


class WakeWordError(AssistantError):
    code = "wake_word"


class VadError(AssistantError):
    code = "vad"


class TranscribeError(AssistantError):
    code = "stt"


class UnderstandError(AssistantError):
    code = "understand"


class LLMError(UnderstandError):
    """The LLM could not be loaded, or answered outside what it was asked for."""

    code = "planner"


class RequestTooLong(UnderstandError):
    """A request longer than the LLM's context can hold (a page pasted into `ask`)."""

    code = "too_long"

    def __init__(self, characters: int) -> None:
        super().__init__(f"That's too long for me to follow ({characters:,} characters): say it in a sentence or two.")


class LLMUnreachable(LLMError):
    """An LLM server did not answer at all: the failover moves to the local model."""

    code = "planner_unreachable"


class LLMUnavailable(LLMError):
    """The local model could not be loaded (a damaged or missing file, too little memory): a request
    that needs it is refused at once with the same message for as long as the process runs, not
    loaded again for each."""

    code = "planner_unavailable"


class SkillError(AssistantError):
    """A skill failed while acting, or was registered wrongly."""

    code = "skill"


class NotForThisRole(AssistantError):
    """A tool kept for some roles (`@tool(roles=...)`), asked for by someone with another: refused
    before anything ran (the message says who may)."""

    code = "role"


class SpeakError(AssistantError):
    code = "tts"


class KnowledgeError(AssistantError):
    """A document that cannot be read, a folder that is not one, a note that is not there."""

    code = "knowledge"


class MediaError(AssistantError):
    """A media file that cannot be read, a path outside the library, a move that cannot be made."""

    code = "media"


class ScheduleError(AssistantError):
    """A timer, alarm or reminder that is not there, or cannot be cancelled."""

    code = "schedule"


class WebError(AssistantError):
    """The phone page cannot be served, or the running one did not answer."""

    code = "web"


class CommandLineError(AssistantError):
    """A command said wrongly, or asking for something that is not there: the message says what to type."""

    code = "usage"


class WyomingError(AssistantError):
    """The Wyoming services cannot be served."""

    code = "wyoming"
