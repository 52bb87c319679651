from pathlib import Path

import pytest

from assistant.config import load_config
from assistant.errors import ConfigError


def test_defaults() -> None:
    config = load_config(environ={})
    assert config.wake.model == "hey_jarvis" and config.stt.model == "tiny.en"
    assert config.tts.voice == "en_US-joe-medium"


def test_user_file_then_environment(tmp_path: Path) -> None:
    user = tmp_path / "c.yaml"
    user.write_text("vad:\n  trailing_silence_s: 0.7\nwake:\n  threshold: 0.6\n")
    config = load_config(user, environ={"ASSISTANT__WAKE__THRESHOLD": "0.8"})
    assert config.vad.trailing_silence_s == 0.7
    assert config.wake.threshold == 0.8


@pytest.mark.parametrize(
    "text, message",
    [
        ("wake: [1, 2]", "must be a mapping"),
        ("wake:\n  threshhold: 0.5", "unknown setting wake.threshhold"),
        ("sound:\n  x: 1", "unknown config section"),
        ("vad:\n  trailing_silence_s: soon", "must be float"),
        ("- a\n- b", "must be a mapping"),
        ("wake: {model: [unclosed", "not valid YAML"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    user = tmp_path / "c.yaml"
    user.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(user, environ={})
