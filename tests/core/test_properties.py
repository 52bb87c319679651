"""Everything read from outside, under property-based tests (hypothesis): WAV files, config files,
routine YAML, websocket messages from a phone, the page's REST API and mDNS TXT records. Nothing
crashes, every rejection is the clear error of its kind (one line, no traceback; an HTTP status
under 500), and nothing already stored is lost.

`test_fuzz_for_a_while` then feeds each of them random input for ASSISTANT_FUZZ_S seconds in all
(default 150): the few-minute fuzzing run CI does on every submission.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
import urllib.parse
import wave
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from assistant.app.runtime import build_core
from assistant.audio.wav import read_wav
from assistant.core.bus import Bus
from assistant.core.config import Config, load_config
from assistant.core.errors import AssistantError, AudioInputError, ConfigError
from assistant.devices.discovery import BadAnnouncement, protocol_for, txt_of
from assistant.routines.workflows import Routine, RoutineError, load_routine, load_routines
from testbed.harness import TEMPLATES_ONLY
from testbed.web import Page, start_page, stop_page

QUICK = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def one_line(error: AssistantError) -> None:
    assert error.message and "\n" not in error.message and "Traceback" not in error.message, error.message


# --- WAV ---------------------------------------------------------------------------------------


@st.composite
def wav_bytes(draw: st.DrawFn) -> bytes:
    """Mostly well-formed headers with odd values, sometimes cut short or with junk bytes."""
    channels = draw(st.integers(1, 8))
    width = draw(st.integers(1, 4))
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000, 1, 999, 192000]))
    frames = draw(st.binary(max_size=4000))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    data = buffer.getvalue()
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    if draw(st.booleans()):  # a header field overwritten with anything
        at = draw(st.integers(0, min(43, len(data))))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at + 8 :]
    return data


def check_wav(tmp: Path, data: bytes) -> None:
    path = tmp / "in.wav"
    path.write_bytes(data)
    try:
        pcm = read_wav(path)
    except AudioInputError as e:
        one_line(e)
        return
    assert pcm.dtype.name == "int16" and pcm.ndim == 1 and len(pcm) > 0


@QUICK
@given(data=st.one_of(wav_bytes(), st.binary(max_size=2000)))
def test_any_wav_is_read_or_refused_clearly(tmp_path: Path, data: bytes) -> None:
    check_wav(tmp_path, data)


# --- config ------------------------------------------------------------------------------------

SECTIONS = {f: getattr(Config(), f) for f in Config.__dataclass_fields__}
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=20)
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def config_docs(draw: st.DrawFn) -> Any:
    """Known sections and settings with values of any type, now and then an unknown one."""
    if draw(st.integers(0, 9)) == 0:
        return draw(yaml_values)
    doc: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True)):
        fields = sorted(type(SECTIONS[section]).__dataclass_fields__)
        doc[section] = {k: draw(yaml_values) for k in draw(st.lists(st.sampled_from(fields), max_size=3, unique=True))}
    if draw(st.booleans()):
        doc[draw(st.text(max_size=8))] = draw(yaml_values)
    return doc


def check_config(tmp: Path, text: str) -> None:
    path = tmp / "config.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        config = load_config(path, environ={})
    except ConfigError as e:
        one_line(e)
    else:
        assert isinstance(config, Config)
    assert path.read_bytes() == text.encode("utf-8", "surrogatepass"), "a config file is never rewritten"


@QUICK
@given(doc=config_docs())
def test_any_config_loads_or_is_refused_naming_the_setting(tmp_path: Path, doc: Any) -> None:
    check_config(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@QUICK
@given(text=st.text(max_size=300))
def test_any_text_as_a_config_file(tmp_path: Path, text: str) -> None:
    check_config(tmp_path, text)


# --- routines ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("core"), Bus()).registry


TOOLS = ["clock.get_time", "timer.start", "device.turn_on", "nope.nothing", "routine.run"]


@st.composite
def routine_docs(draw: st.DrawFn) -> Any:
    step = st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=6),
            "tool": st.sampled_from(TOOLS),
            "args": yaml_values,
            "say": scalars,
            "depends_on": st.one_of(st.text(max_size=6), st.lists(st.text(max_size=6), max_size=3)),
            "wait": yaml_values,
            "if": scalars,
            draw(st.text(max_size=6)): yaml_values,
        },
    )
    trigger = st.fixed_dictionaries(
        {},
        optional={
            "at": scalars,
            "cron": st.one_of(st.sampled_from(["0 7 * * *", "*/5 * * * *", "99 99 * * *"]), scalars),
            "phrase": scalars,
            "event": scalars,
            "days": yaml_values,
        },
    )
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": scalars,
                "description": scalars,
                "catch_up": st.sampled_from(["skip", "run_once", "x", None]),
                "triggers": st.one_of(st.lists(trigger, max_size=3), yaml_values),
                "steps": st.one_of(st.lists(step, max_size=4), yaml_values),
            },
        )
    )


def check_routine(tmp: Path, registry: Any, text: str) -> None:
    folder = tmp / "routines"
    folder.mkdir(exist_ok=True)
    good = folder / "a-good.yaml"
    good.write_text("name: lights out\nsteps:\n  - id: now\n    tool: clock.get_time\n")
    path = folder / "b-fuzzed.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        routine = load_routine(path, registry.tool)
    except RoutineError as e:
        one_line(e)
        assert str(path) in e.message
    else:
        assert isinstance(routine, Routine) and routine.steps
    loaded = load_routines([folder], registry.tool)
    assert "lights out" in loaded.routines, "one bad file never hides the others"
    assert path.read_bytes() == text.encode("utf-8", "surrogatepass")


@QUICK
@given(doc=routine_docs())
def test_any_routine_yaml_loads_or_is_refused_with_file_and_line(tmp_path: Path, registry: Any, doc: Any) -> None:
    check_routine(tmp_path, registry, yaml.safe_dump(doc, allow_unicode=True))


@QUICK
@given(text=st.text(max_size=300))
def test_any_text_as_a_routine_file(tmp_path: Path, registry: Any, text: str) -> None:
    check_routine(tmp_path, registry, text)


# --- mDNS TXT records --------------------------------------------------------------------------


def check_txt(properties: dict[bytes, bytes | None], service_type: str, name: str) -> None:
    try:
        txt = txt_of(properties)
    except BadAnnouncement as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert all(isinstance(k, str) and isinstance(v, str) and len(v) <= 255 for k, v in txt.items())
    assert protocol_for(service_type, name) in (None, "wled", "shelly", "hue", "cast", "esphome")


@QUICK
@given(
    properties=st.dictionaries(st.binary(max_size=12), st.one_of(st.none(), st.binary(max_size=300)), max_size=8),
    service_type=st.one_of(
        st.sampled_from(["_http._tcp.local.", "_wled._tcp.local.", "_hue._tcp.local."]), st.text(max_size=30)
    ),
    name=st.text(max_size=40),
)
def test_any_txt_record_is_read_or_rejected(
    properties: dict[bytes, bytes | None], service_type: str, name: str
) -> None:
    check_txt(properties, service_type, name)


# --- websocket messages ------------------------------------------------------------------------


class Tracebacks(logging.Handler):
    """Every log record, from any thread, that carries a traceback or is an error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Tracebacks:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, str]]:
    p = start_page(tmp_path_factory.mktemp("web") / "data")
    with Tracebacks() as logged:
        yield p, p.pair()
    stop_page(p)
    assert not logged.records, [logging.Formatter().format(r) for r in logged.records]


KINDS = ["text", "ptt_start", "ptt_end", "ptt_cancel", "hello", "fly", ""]
nested = st.one_of(st.sampled_from([1000, 3000, 5000]), st.integers(1, 6000)).flatmap(
    lambda n: st.sampled_from(
        ["[" * n + "]" * n, '{"type":' * n + "1" + "}" * n, '{"type": "text", "text": ' + "[" * n]
    )
)
ws_messages = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.binary(max_size=600),
        st.fixed_dictionaries(
            {"type": st.one_of(st.sampled_from(KINDS), scalars)},
            optional={"rate": st.one_of(scalars, st.integers(0, 100_000)), "text": scalars, "extra": yaml_values},
        ).map(json.dumps),
        nested,
    ),
    max_size=6,
)


async def _exchange(page: Page, token: str, messages: list[str | bytes]) -> list[dict[str, Any]]:
    """Send them, then an unknown type as a marker: its error proves the connection is still served."""
    got: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            page.http + "api/ws", headers={"Cookie": f"assistant_token={token}", "Origin": page.origin}
        ) as ws:
            for m in messages:
                await (ws.send_bytes(m) if isinstance(m, bytes) else ws.send_str(m))
            await ws.send_str(json.dumps({"type": "marker-end"}))
            async with asyncio.timeout(30):
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    item = json.loads(msg.data)
                    got.append(item)
                    if item.get("type") == "error" and "marker-end" in item.get("message", ""):
                        break
    return got


def check_ws(page: Page, token: str, messages: list[str | bytes]) -> None:
    timers_before = len(page.core.scheduler.timers())
    got = page.run(_exchange(page, token, messages))
    assert got[0]["type"] == "hello" and "marker-end" in got[-1]["message"], "the connection outlived the messages"
    for item in got:
        if item.get("type") == "error":
            assert (
                item["code"] and item["message"] and "\n" not in item["message"] and "Traceback" not in item["message"]
            )
    assert len(page.core.scheduler.timers()) >= timers_before, "nothing stored was lost"


@QUICK
@given(messages=ws_messages)
def test_any_websocket_messages_get_clear_errors_and_the_connection_lives(
    page: tuple[Page, str], messages: list[str | bytes]
) -> None:
    check_ws(page[0], page[1], messages)


# --- the page's REST API -----------------------------------------------------------------------

ROUTES = [
    ("POST", "api/pair"),
    ("GET", "api/me"),
    ("GET", "api/state"),
    ("GET", "api/phones"),
    ("DELETE", "api/phones/{}"),
    ("POST", "api/say"),
    ("POST", "api/call"),
    ("GET", "api/media/thumb/{}"),
    ("GET", "api/ws"),
    ("POST", "admin/pair-code"),
    ("GET", "admin/phones"),
    ("POST", "admin/revoke/{}"),
    ("GET", "ca.crt"),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
json_bodies = st.one_of(
    yaml_values.map(json.dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "code": st.one_of(scalars, st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ23456789-", max_size=12)),
            "name": scalars,
            "text": scalars,
            "tool": st.one_of(st.sampled_from(["timer.start", "timer.cancel", "clock.get_time", "nope.x"]), scalars),
            "args": yaml_values,
            "confirmed": scalars,
            "admin": scalars,
        },
    ).map(json.dumps),
)


def mostly(usual: Any, *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` three times in four, else one of `others`: most requests get past the guard to the handlers."""
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), st.one_of(*others))


rest_requests = st.fixed_dictionaries(
    {
        "route": mostly(
            None, st.tuples(st.sampled_from(METHODS), st.sampled_from([p for _, p in ROUTES] + ["api/nothing", ""]))
        ),
        "served": st.sampled_from(ROUTES),
        "segment": st.one_of(
            st.text(max_size=30),
            st.integers().map(str),
            st.integers(0, 10**30).map(str),
            st.sampled_from([2**63 - 1, 2**63, 10**18, 10**22]).map(str),
        ),
        "auth": mostly("bearer", st.sampled_from(["cookie", "none", "garbage"])),
        "origin": mostly("page", st.sampled_from(["none", "https://evil.example", "null"]), header_text),
        "content_type": mostly(
            "application/json",
            st.sampled_from(["text/plain", "", "application/json; charset=latin-1", "multipart/form-data"]),
            header_text,
        ),
        "host": mostly("ours", st.sampled_from(["localhost", "evil.example"]), header_text),
        "body": st.one_of(st.none(), st.binary(max_size=300), json_bodies, nested),
        "source": st.integers(1, 60_000),
    }
)
REST_TRIED: Counter[str] = Counter()


def _rest_headers(page: Page, token: str, r: dict[str, Any]) -> dict[str, str]:
    port = page.origin.rsplit(":", 1)[1]
    host = {"ours": f"127.0.0.1:{port}", "localhost": f"localhost:{port}"}.get(r["host"], r["host"])
    headers = {"Host": host}
    auth = {
        "bearer": {"Authorization": f"Bearer {token}"},
        "cookie": {"Cookie": f"assistant_token={token}"},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "none": {},
    }[r["auth"]]
    origin = {"page": page.origin, "none": None}.get(r["origin"], r["origin"])
    if origin is not None:
        headers["Origin"] = origin
    if r["content_type"]:
        headers["Content-Type"] = r["content_type"]
    return {**headers, **auth}


async def _rest(page: Page, token: str, r: dict[str, Any]) -> int:
    """One request from a loopback address of its own (each its own limiter's count); its status."""
    source = f"127.1.{r['source'] // 256}.{r['source'] % 256}"
    method, path = r["route"] or r["served"]
    url = page.http + path.format(urllib.parse.quote(r["segment"], safe=""))
    body = r["body"].encode("utf-8", "surrogatepass") if isinstance(r["body"], str) else r["body"]
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(source, 0)), skip_auto_headers=["Content-Type"]
    ) as session:
        async with session.request(
            method, URL(url, encoded=True), data=body, headers=_rest_headers(page, token, r)
        ) as response:
            await response.read()
            return response.status


def check_rest(page: Page, token: str, r: dict[str, Any]) -> None:
    with Tracebacks() as logged:
        status = page.run(_rest(page, token, r))
    REST_TRIED["inputs"] += 1
    REST_TRIED["5xx"] += status >= 500
    REST_TRIED[str(status)] += 1
    assert status < 500 and not logged.records, (r, status, [logging.Formatter().format(x) for x in logged.records])


@pytest.fixture(scope="module")
def rest(page: tuple[Page, str]) -> tuple[Page, str]:
    """The module's page and a phone of the REST fuzz's own: a DELETE it sends may unpair itself, never
    the websocket fuzz's phone (it is no admin)."""
    return page[0], page[0].pair("REST fuzz")


@QUICK
@given(request=rest_requests)
def test_any_rest_request_is_answered_under_500(rest: tuple[Page, str], request: dict[str, Any]) -> None:
    check_rest(rest[0], rest[1], request)


def test_rest_fuzz_figures() -> None:
    """After the property above: how many inputs it tried, and how many got a 5xx (none)."""
    print(
        f"REST fuzz: {REST_TRIED['inputs']} inputs tried, {REST_TRIED['5xx']} answered 5xx; by status: {dict(REST_TRIED)}"
    )
    assert REST_TRIED["5xx"] == 0


# --- the fuzzing run ---------------------------------------------------------------------------


def test_fuzz_for_a_while(tmp_path: Path, registry: Any, page: tuple[Page, str], rest: tuple[Page, str]) -> None:
    """Random bytes drive each property's strategies (hypothesis' fuzz_one_input) for a share of
    ASSISTANT_FUZZ_S seconds. A failing input fails the test and is printed."""
    budget = float(os.environ.get("ASSISTANT_FUZZ_S", "150"))
    rest_token = rest[1]
    targets = {
        "wav": given(data=st.one_of(wav_bytes(), st.binary(max_size=4000)))(lambda data: check_wav(tmp_path, data)),
        "config": given(doc=config_docs())(lambda doc: check_config(tmp_path, yaml.safe_dump(doc, allow_unicode=True))),
        "routine": given(doc=routine_docs())(
            lambda doc: check_routine(tmp_path, registry, yaml.safe_dump(doc, allow_unicode=True))
        ),
        "txt": given(
            properties=st.dictionaries(
                st.binary(max_size=12), st.one_of(st.none(), st.binary(max_size=300)), max_size=8
            ),
            service_type=st.text(max_size=30),
            name=st.text(max_size=40),
        )(check_txt),
        "websocket": given(messages=ws_messages)(lambda messages: check_ws(page[0], page[1], messages)),
        "rest": given(request=rest_requests)(lambda request: check_rest(page[0], rest_token, request)),
    }
    share = budget / len(targets)
    counts = {}
    for name, target in targets.items():
        deadline = time.monotonic() + share
        n = 0
        while time.monotonic() < deadline:
            target.hypothesis.fuzz_one_input(os.urandom(512))
            n += 1
        counts[name] = n
    print(f"fuzzed for {budget:.0f} s: {counts}")
    assert all(n > 0 for n in counts.values())
