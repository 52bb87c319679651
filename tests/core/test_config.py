import re
from pathlib import Path

import pytest

from assistant.core.config import load_config
from assistant.core.errors import ConfigError


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
    assert on(understanding__phrase_replies="true") and not on(
        understanding__phrase_replies="false", planner__server_url="x"
    )
    with pytest.raises(ConfigError, match="phrase_replies must be true, false or auto"):
        on(understanding__phrase_replies="sometimes")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ASSISTANT__WYOMING__SATELLITES": "{bedroom: 'tcp://[None, None]:1'}"}, "wyoming.satellites.bedroom"),
        ({"ASSISTANT__WYOMING__SATELLITES": "{bedroom: 'tcp://host:99999'}"}, "must look like tcp://HOST:PORT"),
        ({"ASSISTANT__WYOMING__SATELLITES": "{'': 'tcp://host:10700'}"}, "named by its room"),
        ({"ASSISTANT__STT__SERVER": "http://host:10300"}, "stt.server"),
        ({"ASSISTANT__TTS__SERVER": "tcp://[x]:3"}, "tts.server"),
        ({"ASSISTANT__DEVICES__HOME_ASSISTANT_URL": "homeassistant.local"}, "devices.home_assistant_url"),
    ],
)
def test_bad_remote_addresses_are_config_errors(env: dict[str, str], message: str) -> None:
    """Found by the fuzzer: a bracketed host that is not IPv6 escaped as a ValueError."""
    with pytest.raises(ConfigError, match=message):
        load_config(environ=env)


def test_network_services_bind_loopback_unless_told_otherwise() -> None:
    config = load_config(environ={})
    assert config.web.bind == "127.0.0.1" and config.wyoming.bind == "127.0.0.1"
    assert config.wyoming.clients == () and config.wyoming.token == ""


WYOMING = "ASSISTANT__WYOMING__"


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"SERVE": "true", "BIND": "0.0.0.0"},
            "wyoming.bind is '0.0.0.0', reachable from the network, but neither "
            "wyoming.clients nor wyoming.token is set",
        ),
        ({"SERVE": "true", "BIND": "192.168.1.5"}, "neither wyoming.clients nor wyoming.token"),
        ({"SERVE": "true", "BIND": "'::'"}, "neither wyoming.clients nor wyoming.token"),
        ({"SERVE": "true", "BIND": "0.0.0.0", "TOKEN": "short"}, "wyoming.token must be at least 16 characters"),
        ({"CLIENTS": "[192.168.1.300]"}, "wyoming.clients: '192.168.1.300' is not an address or a network"),
        ({"CLIENTS": "[home-assistant.local]"}, "is not an address or a network"),
    ],
)
def test_wyoming_off_loopback_needs_an_allowlist_or_a_token(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(environ={WYOMING + k: v for k, v in env.items()})


@pytest.mark.parametrize(
    "env, lan_host_admitted, needs_token",
    [
        ({"SERVE": "true", "BIND": "0.0.0.0", "CLIENTS": "[192.168.1.20, 10.0.0.0/8, 'fd00::/8']"}, True, False),
        ({"SERVE": "true", "BIND": "0.0.0.0", "CLIENTS": "192.168.1.21"}, False, False),
        ({"SERVE": "true", "BIND": "0.0.0.0", "TOKEN": "a-long-shared-secret-1234"}, True, True),
        ({"SERVE": "true", "BIND": "localhost"}, True, False),
        ({"SERVE": "true", "BIND": "::1"}, True, False),
        ({"SERVE": "true", "BIND": "127.0.0.2"}, True, False),
        ({"SERVE": "false", "BIND": "0.0.0.0"}, True, False),
    ],
)
def test_wyoming_on_loopback_or_with_an_allowlist_or_a_token_loads(
    env: dict[str, str], lan_host_admitted: bool, needs_token: bool
) -> None:
    """Loopback needs neither (only this machine reaches it); the allowlist admits its hosts alone."""
    from assistant.wyoming.access import Access

    wyoming = load_config(environ={WYOMING + k: v for k, v in env.items()}).wyoming
    access = Access.of(wyoming.clients, wyoming.token)
    assert wyoming.bind == env["BIND"] and access.admits("192.168.1.20") == lan_host_admitted
    assert access.may_handle(None) != needs_token and access.may_handle("a-long-shared-secret-1234")
