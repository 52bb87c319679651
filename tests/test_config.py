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


def test_llm_worded_replies_are_on_only_for_a_bigger_model_unless_asked() -> None:
    def on(**env: str) -> bool:
        config = load_config(environ={f"ASSISTANT__{k.upper()}": v for k, v in env.items()})
        return config.understanding.phrasing(config.planner)

    assert not on()
    assert on(planner__server_url="http://127.0.0.1:8080")
    assert on(planner__model="/models/qwen2.5-7b-instruct-q4_k_m.gguf")
    assert on(understanding__phrase_replies="true") and not on(understanding__phrase_replies="false", planner__server_url="x")
    with pytest.raises(ConfigError, match="phrase_replies must be true, false or auto"):
        on(understanding__phrase_replies="sometimes")


@pytest.mark.parametrize("env, message", [
    ({"ASSISTANT__WYOMING__SATELLITES": "{bedroom: 'tcp://[None, None]:1'}"}, "wyoming.satellites.bedroom"),
    ({"ASSISTANT__WYOMING__SATELLITES": "{bedroom: 'tcp://host:99999'}"}, "must look like tcp://HOST:PORT"),
    ({"ASSISTANT__WYOMING__SATELLITES": "{'': 'tcp://host:10700'}"}, "named by its room"),
    ({"ASSISTANT__STT__SERVER": "http://host:10300"}, "stt.server"),
    ({"ASSISTANT__TTS__SERVER": "tcp://[x]:3"}, "tts.server"),
    ({"ASSISTANT__DEVICES__HOME_ASSISTANT_URL": "homeassistant.local"}, "devices.home_assistant_url"),
])
def test_bad_remote_addresses_are_config_errors(env: dict[str, str], message: str) -> None:
    """Found by the fuzzer: a bracketed host that is not IPv6 escaped as a ValueError."""
    with pytest.raises(ConfigError, match=message):
        load_config(environ=env)
