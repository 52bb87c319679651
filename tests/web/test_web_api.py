"""The companion page's HTTP and websocket API against the real server, core and skills: pairing,
tokens and rate limits, every endpoint with good, malformed and oversized input, typed requests and
push-to-talk through the real speech models, and the `assistant pair` / `phones` CLI."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from assistant.core.events import Due
from assistant.core.store import DataDirLock
from assistant.web.auth import CODE_LENGTH, FailureLimiter, Phones
from assistant.web.server import ADMIN_HEADER, admin_key
from testbed import speech as sf
from testbed.harness import wait_for
from testbed.web import WEB_ENV, Page, start_page, stop_page

NO_VERIFY = ssl.create_default_context()
NO_VERIFY.check_hostname = False
NO_VERIFY.verify_mode = ssl.CERT_NONE


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    p = start_page(tmp_path / "data")
    yield p
    stop_page(p)


async def _request(method: str, url: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers, ssl=NO_VERIFY, **kwargs) as r:
            text = (await r.read()).decode("utf-8", errors="replace")
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = text
            return r.status, body, dict(r.headers)


def test_pairing_gives_a_token_that_every_api_call_needs(page: Page) -> None:
    status, body, _ = page.run(_request("GET", page.http + "api/me"))
    assert status == 401 and "assistant pair" in body["error"]
    code = page.new_code()
    assert len(code) == CODE_LENGTH
    status, body, headers = page.run(
        _request("POST", page.https + "api/pair", json={"code": code.lower(), "name": "Kitchen phone"})
    )
    assert status == 200 and body["phone"]["name"] == "Kitchen phone" and body["fingerprint"].count(":") == 31
    assert (
        "HttpOnly" in headers["Set-Cookie"]
        and "Secure" in headers["Set-Cookie"]
        and "SameSite=Strict" in headers["Set-Cookie"]
    )
    token = body["token"]
    status, body, _ = page.run(_request("GET", page.https + "api/me", token))
    assert status == 200 and body["phone"]["name"] == "Kitchen phone"
    status, _, _ = page.run(_request("GET", page.http + "api/state", headers={"Cookie": f"assistant_token={token}"}))
    assert status == 200
    # A code works once.
    status, body, _ = page.run(_request("POST", page.http + "api/pair", json={"code": code, "name": "Thief"}))
    assert status == 403 and "expired" in body["error"]
    # Revoked from the page: the token stops working at once.
    phone_id = page.run(_request("GET", page.http + "api/phones", token))[1]["phones"][0]["id"]
    assert page.run(_request("DELETE", page.http + f"api/phones/{phone_id}", token))[0] == 200
    assert page.run(_request("GET", page.http + "api/me", token))[0] == 401
    # Nothing secret is on disk: the store holds hashes only.
    stored = (page.data_dir / "web" / "web.json").read_text()
    assert token not in stored and code not in stored
    assert oct((page.data_dir / "web" / "key.pem").stat().st_mode & 0o777) == "0o600"
    admin = admin_key(page.data_dir)  # sealed in the vault, whose files only their owner reads
    assert admin not in (page.data_dir / "secrets.json").read_text()
    assert oct((page.data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert oct((page.data_dir / "vault.key").stat().st_mode & 0o777) == "0o600"


def test_repeated_failures_are_rate_limited(page: Page) -> None:
    for _ in range(5):
        status, _, _ = page.run(_request("POST", page.http + "api/pair", json={"code": "AAAAAA", "name": "x"}))
        assert status == 403
    status, body, headers = page.run(
        _request("POST", page.http + "api/pair", json={"code": page.new_code(), "name": "x"})
    )
    assert status == 429 and int(headers["Retry-After"]) > 0 and "try again" in body["error"]
    assert page.run(_request("GET", page.http + "api/me", "not-a-token"))[0] == 429


def test_a_page_not_yet_paired_is_not_taken_for_a_guesser(page: Page) -> None:
    for _ in range(10):
        assert page.run(_request("GET", page.http + "api/me"))[0] == 401  # no token at all
    assert page.run(_request("POST", page.http + "api/pair", json={"code": page.new_code(), "name": "x"}))[0] == 200
    for _ in range(5):
        assert page.run(_request("GET", page.http + "api/me", "wrong-token"))[0] == 401
    assert page.run(_request("GET", page.http + "api/me", "wrong-token"))[0] == 429


def test_failure_limiter_backs_off_and_forgets() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=3, window_s=10, block_s=5, clock=lambda: now[0])
    for _ in range(3):
        limiter.failed("a")
    assert limiter.retry_after("a") == 5 and limiter.retry_after("b") == 0
    now[0] = 6
    assert limiter.retry_after("a") == 0
    for _ in range(3):
        limiter.failed("a")
    assert limiter.retry_after("a") == 10  # doubled for coming back


def test_codes_expire(tmp_path: Path) -> None:
    now = [1000.0]
    phones = Phones(tmp_path, clock=lambda: now[0])
    code, expires = phones.new_code()
    now[0] = expires + 1
    with pytest.raises(Exception, match="expired"):
        phones.pair(code, "late")
    phones.close()


def test_malformed_and_oversized_requests_get_clear_errors(page: Page) -> None:
    token = page.pair()
    url = page.http
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "api/say", {"data": b"not json", "headers": {"Content-Type": "application/json"}}, 400, "JSON object"),
        ("POST", "api/say", {"json": ["a", "list"]}, 400, "JSON object"),
        ("POST", "api/say", {"json": {"text": ""}}, 400, "characters"),
        ("POST", "api/say", {"json": {"text": "x" * 501}}, 400, "characters"),
        (
            "POST",
            "api/say",
            {"data": b"{" + b" " * 20000 + b"}", "headers": {"Content-Type": "application/json"}},
            413,
            "",
        ),
        ("POST", "api/call", {"json": {"tool": "nope.nothing"}}, 404, "no tool"),
        ("POST", "api/call", {"json": {"tool": "timer.start", "args": "ten"}}, 400, "tool"),
        ("POST", "api/call", {"json": {"tool": "timer.start", "args": {"minutes": "many"}}}, 400, "minutes"),
        ("POST", "api/call", {"json": {"tool": "timer.start", "args": {"colour": "red"}}}, 400, "colour"),
        ("GET", "api/media/thumb/abc", {}, 400, "number"),
        ("GET", "api/media/thumb/99999", {}, 404, "no such photo"),
        ("DELETE", "api/phones/nobody", {}, 400, "no paired phone"),
        ("POST", "api/pair", {"json": {"code": 7}}, 400, "code"),
    ]
    for method, path, kwargs, want, words in cases:
        status, body, _ = page.run(_request(method, url + path, token, **kwargs))
        assert status == want, (path, kwargs, status, body)
        if words:
            assert isinstance(body, dict) and words in body["error"], (path, body)
    # The admin door opens only on loopback with the admin key.
    status, _, _ = page.run(_request("POST", url + "admin/pair-code", token, json={}))
    assert status == 401


def test_tool_calls_from_the_page_and_a_risky_one_asks_first(page: Page) -> None:
    token = page.pair()
    status, body, _ = page.run(
        _request(
            "POST", page.http + "api/call", token, json={"tool": "timer.start", "args": {"minutes": 3, "name": "tea"}}
        )
    )
    assert status == 200 and body["done"] and "Tea timer" in body["reply"]
    state = page.run(_request("GET", page.http + "api/state", token))[1]
    assert [t["name"] for t in state["timers"]] == ["tea"] and state["timers"][0]["remaining_s"] > 170
    assert {"timers", "alarms", "reminders", "routines", "devices", "albums", "playing", "now"} <= set(state)
    status, body, _ = page.run(_request("POST", page.http + "api/call", token, json={"tool": "media.organize_by_date"}))
    assert status == 409 and body["question"].endswith("?")
    # A routine switched off from the page shows as off, and back on.
    assert {r["name"]: r["enabled"] for r in state["routines"]}["bedtime"] is True
    status, body, _ = page.run(
        _request("POST", page.http + "api/call", token, json={"tool": "routine.disable", "args": {"name": "bedtime"}})
    )
    assert status == 200 and "off" in body["reply"]
    state = page.run(_request("GET", page.http + "api/state", token))[1]
    assert {r["name"]: r["enabled"] for r in state["routines"]}["bedtime"] is False
    page.run(
        _request("POST", page.http + "api/call", token, json={"tool": "routine.enable", "args": {"name": "bedtime"}})
    )
    intents = [e for e in page.recorder.of("intent")]
    assert [(e.tool, e.source) for e in intents] == [
        ("timer.start", "phone"),
        ("routine.disable", "phone"),  # type: ignore[attr-defined]
        ("routine.enable", "phone"),
    ]


async def _ws_exchange(
    page: Page, token: str | None, messages: list[Any], until: str, timeout: float = 30.0
) -> list[Any]:
    """Send `messages` (dicts as JSON, bytes as binary) and collect what comes back until a message
    of type `until`; binary frames are collected as bytes."""
    headers = {"Cookie": f"assistant_token={token}", "Origin": page.origin} if token else {"Origin": page.origin}
    got: list[Any] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            page.http + "api/ws", headers=headers, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        ) as ws:
            for m in messages:
                if isinstance(m, bytes):
                    await ws.send_bytes(m)
                else:
                    await ws.send_str(json.dumps(m))
            async with __import__("asyncio").timeout(timeout):
                async for msg in ws:
                    item = msg.data if msg.type == aiohttp.WSMsgType.BINARY else json.loads(msg.data)
                    got.append(item)
                    if isinstance(item, dict) and item.get("type") == until:
                        break
    return got


def _anna_an_adult_and_ben_a_child(data: Path) -> Path:
    """A data folder with two voices enrolled (stand-in voiceprints): Anna an adult, Ben a child."""
    from assistant.people.voiceprints import Person, Voiceprints
    from assistant.trust.vault import Vault

    vector = np.zeros(256, np.float32)
    vector[0] = 1.0
    store = Voiceprints(data, Vault(data).derived_key("voiceprints"))
    store.save(Person("Anna", "adult", vector, 0.0, 3))
    store.save(Person("Ben", "child", np.roll(vector, 1), 0.0, 3))
    return data


def test_a_phone_paired_as_a_person_asks_as_them(tmp_path: Path) -> None:
    """`assistant pair --person Anna`: what the phone asks is Anna's (her reminder, her role); a name
    nobody enrolled is refused; a phone paired as nobody is a guest once voices are enrolled, so no
    phone does by typing or by a button what its person's voice may not."""
    page = start_page(_anna_an_adult_and_ben_a_child(tmp_path / "data"))
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            page.new_code(person="Zed")
        assert refused.value.code == 404 and "nobody called 'Zed' is enrolled" in refused.value.read().decode()
        annas = page.pair("Anna's phone", person="anna")
        status, me, _ = page.run(_request("GET", page.http + "api/me", annas))
        assert status == 200 and me["phone"]["person"] == "Anna"
        said = page.run(
            _request("POST", page.http + "api/say", annas, json={"text": "remind me to call mum in 2 hours"})
        )
        assert said[0] == 200 and said[1]["reply"].startswith("I'll remind you"), said
        other = page.pair("Kitchen tablet")
        page.run(_request("POST", page.http + "api/say", other, json={"text": "remind me to buy milk in 3 hours"}))
        owners = sorted((r.text, r.owner or "") for r in page.core.scheduler.reminders())
        assert owners == [("buy milk", ""), ("call mum", "Anna")]
        phones = {p.name: p.person for p in page.server.phones.all()}
        assert phones == {"Anna's phone": "Anna", "Kitchen tablet": None}

        def say(token: str, text: str) -> str:
            status, body, _ = page.run(_request("POST", page.http + "api/say", token, json={"text": text}))
            assert status == 200, body
            return str(body["reply"])

        promote = {"tool": "people.set_role", "args": {"name": "Ben", "role": "adult"}, "confirmed": True}
        assert say(other, "make Ben an adult") == (
            "Sorry, only an adult can do that from this phone: pair it as one with `assistant pair --person NAME`."
        )
        bens = page.pair("Ben's phone", person="Ben")
        assert say(bens, "make me an adult") == "Sorry, only an adult can do that."
        for token in (bens, other):  # a button is no way round it
            status, body, _ = page.run(_request("POST", page.http + "api/call", token, json=promote))
            assert status == 403 and body["code"] == "role" and "only an adult" in body["error"], body
        assert page.core.household.find("Ben").role == "child"  # type: ignore[union-attr]
        assert say(annas, "make Ben an adult") == "Give Ben the role adult?"
        assert say(annas, "yes") == "Ben is an adult now."
        admin = page.pair("Admin phone", admin=True)
        demote = {**promote, "args": {"name": "Ben", "role": "child"}}
        status, body, _ = page.run(_request("POST", page.http + "api/call", admin, json=demote))
        assert status == 200 and body["reply"] == "Ben is a child now.", body
        changed = [(e["who"], e["role"]) for e in page.core.audit.entries() if e.get("action") == "voice role changed"]
        assert changed == [("phone paired as Anna", "adult"), ("phone", "child")], (
            "where it was asked from, not 'voice' or 'typed'"
        )
    finally:
        stop_page(page)


def test_a_phone_sees_only_its_persons_things_and_its_own_requests(tmp_path: Path) -> None:
    """Ben's phone is not shown Anna's reminders, nor what Anna's phone (or the room) asked and was
    answered; an admin phone sees the household's all, as the CLI does."""
    import asyncio

    page = start_page(_anna_an_adult_and_ben_a_child(tmp_path / "data"))
    try:
        annas, bens = page.pair("Anna's phone", person="Anna"), page.pair("Ben's phone", person="Ben")
        guest, admin = page.pair("Kitchen tablet"), page.pair("Admin phone", admin=True)
        for token, text in (
            (annas, "remind me to say the locker code is 4711 in 2 hours"),
            (guest, "remind me to buy milk in 3 hours"),
        ):
            status, body, _ = page.run(_request("POST", page.http + "api/say", token, json={"text": text}))
            assert status == 200 and body["reply"].startswith("I'll remind you"), body

        def reminders(token: str) -> list[str]:
            status, state, _ = page.run(_request("GET", page.http + "api/state", token))
            assert status == 200, state
            return sorted(r["text"] for r in state["reminders"])

        everything = ["buy milk", "say the locker code is 4711"]
        assert reminders(annas) == reminders(admin) == everything
        assert reminders(bens) == reminders(guest) == ["buy milk"]

        async def bens_socket_while_anna_asks() -> list[Any]:
            headers = {"Cookie": f"assistant_token={bens}", "Origin": page.origin}
            got: list[Any] = []
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(page.http + "api/ws", headers=headers) as ws:
                    assert json.loads((await ws.receive()).data)["type"] == "hello"
                    said = await _request("POST", page.http + "api/say", annas, json={"text": "what are my reminders"})
                    assert "locker code" in said[1]["reply"], said
                    # Anna's reminder rings: Ben's phone hears that something rang, not what
                    page.core.bus.publish(
                        Due(kind="reminder", item_id="r1", reason="ring", text="Anna, reminder: 4711")
                    )
                    await ws.send_str(json.dumps({"type": "text", "text": "what are my reminders"}))
                    async with asyncio.timeout(30):
                        async for msg in ws:
                            got.append(json.loads(msg.data))
                            if got[-1]["type"] == "reply":
                                break
                    # Ben's own button: its result reaches his page (which lists its timers again)
                    button = {"tool": "timer.start", "args": {"minutes": 5}}
                    status, body, _ = await _request("POST", page.http + "api/call", bens, json=button)
                    assert status == 200, body
                    async with asyncio.timeout(30):
                        async for msg in ws:
                            got.append(json.loads(msg.data))
                            if got[-1]["type"] == "tool_result":
                                break
            return got

        got = page.run(bens_socket_while_anna_asks())
        assert "locker" not in json.dumps(got) and "4711" not in json.dumps(got), got
        reply = next(m for m in got if m["type"] == "reply")
        assert "buy milk" in reply["text"], got
        mine = {reply["turn"], got[-1]["turn"]}
        assert {m.get("turn") for m in got if m.get("turn") is not None} == mine, got
        assert {"type": "changed", "what": "reminder"} in got, "Anna's request changed nothing Ben may not list"
        assert any(m["type"] == "due" and m["item_id"] == "r1" and "text" not in m for m in got), got
        assert got[-1]["tool"] == "timer.start", got
    finally:
        stop_page(page)


def test_typed_request_streams_the_pipeline_events(page: Page) -> None:
    token = page.pair()
    got = page.run(_ws_exchange(page, token, [{"type": "text", "text": "set a timer for five minutes"}], "reply"))
    types = [m["type"] for m in got if isinstance(m, dict)]
    assert types[0] == "hello"
    assert types.index("transcript") < types.index("intent") < types.index("tool_result") < types.index("reply")
    reply = next(m for m in got if isinstance(m, dict) and m["type"] == "reply")
    assert "5 minutes" in reply["text"] or "five minutes" in reply["text"]
    assert len(page.core.scheduler.timers()) == 1


def test_each_phone_has_a_conversation_of_its_own(page: Page) -> None:
    """A question the phone page asked is answered on that phone, typed or over the websocket; another
    phone's yes answers nothing."""
    mine, theirs = page.pair("Mine"), page.pair("Theirs")

    def say(token: str, text: str) -> str:
        status, body, _ = page.run(_request("POST", page.http + "api/say", token, json={"text": text}))
        assert status == 200, body
        return str(body["reply"])

    assert say(mine, "set a timer for five minutes") == "Timer set for 5 minutes."
    assert say(mine, "cancel all timers") == "Cancel all your timers?"
    assert say(theirs, "yes") == "Sorry, I can't help with that yet."
    assert len(page.core.scheduler.timers()) == 1
    got = page.run(_ws_exchange(page, mine, [{"type": "text", "text": "yes"}], "reply"))
    assert got[-1]["text"] == "Cancelled 1 timer." and not page.core.scheduler.timers()
    assert say(theirs, "set a timer") == "For how long?"
    assert say(theirs, "ten minutes") == "Timer set for 10 minutes."


def test_websocket_refuses_without_a_token_and_rejects_bad_messages(page: Page) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        page.run(_ws_exchange(page, None, [], "hello"))
    assert refused.value.status == 401
    token = page.pair()
    got = page.run(_ws_exchange(page, token, ["not json", b"\x00\x01", {"type": "ptt_start", "rate": 3}], "error"))
    assert got[-1]["code"] == "bad_request"
    got = page.run(_ws_exchange(page, token, [{"type": "ptt_start", "rate": 8000}, *[b"\x00" * 16000] * 32], "error"))
    assert got[-1]["code"] == "too_long"  # 32 s at 8 kHz, past web.max_talk_s
    got = page.run(_ws_exchange(page, token, [{"type": "fly"}], "error"))
    assert "unknown message type" in got[-1]["message"]


@pytest.mark.slow_model
def test_push_to_talk_with_the_real_models(tmp_path: Path, speech_models: Any) -> None:
    page = start_page(tmp_path / "data", speech_models)
    try:
        token = page.pair()
        pcm = np.concatenate([sf.silence(0.3), sf.piper("Set a timer for ten minutes."), sf.silence(0.3)])
        at_48k = np.repeat(pcm, 3)  # the page sends at its AudioContext's rate; the server resamples
        chunks = [at_48k[i : i + 4800].astype("<i2").tobytes() for i in range(0, len(at_48k), 4800)]
        got = page.run(
            _ws_exchange(
                page,
                token,
                [{"type": "ptt_start", "rate": 48000}, *chunks, {"type": "ptt_end"}],
                "reply_audio_end",
                timeout=60,
            )
        )
        events = [m for m in got if isinstance(m, dict)]
        heard = next(m["text"] for m in events if m["type"] == "transcript")
        assert "timer" in heard.lower() and "10" in heard or "ten" in heard.lower()
        assert [t.duration_s for t in page.core.scheduler.timers()] == [600]
        start = next(i for i, m in enumerate(got) if isinstance(m, dict) and m["type"] == "reply_audio")
        audio = b"".join(m for m in got[start:] if isinstance(m, bytes))
        end = events[-1]
        assert (
            end["type"] == "reply_audio_end"
            and abs(len(audio) / 2 / 22050 - end["audio_s"]) < 0.01
            and end["audio_s"] > 0.5
        )
        assert np.abs(np.frombuffer(audio, "<i2")).max() > 1000  # speech, not silence
    finally:
        stop_page(page)


def test_a_voice_is_learned_by_push_to_talk_and_listed_and_forgotten_on_the_page(
    tmp_path: Path, speech_models: Any
) -> None:
    """Issue 28: "learn my voice" held to talk on the phone, then three sentences read into it; an admin
    phone lists the voice and forgets it; another phone may do neither."""
    from assistant.people.by_voice import SENTENCES

    voice = "en-us+f2"
    page = start_page(tmp_path / "data", speech_models)
    try:
        token = page.pair("Carol's phone")

        def say(text: str) -> str:
            pcm = np.concatenate([sf.silence(0.3), sf.speak(text, voice), sf.silence(0.3)])
            chunks = [pcm[i : i + 4800].astype("<i2").tobytes() for i in range(0, len(pcm), 4800)]
            got = page.run(
                _ws_exchange(
                    page, token, [{"type": "ptt_start", "rate": 16000}, *chunks, {"type": "ptt_end"}], "reply_audio_end"
                )
            )
            return str(next(m["text"] for m in got if isinstance(m, dict) and m["type"] == "reply"))

        assert say("Learn my voice, my name is Carol.").startswith("I'll learn your voice as Carol.")
        assert say(SENTENCES[0]) == f"Thanks. Next: {SENTENCES[1]}"
        assert say(SENTENCES[1]) == f"Thanks. Next: {SENTENCES[2]}"
        assert say(SENTENCES[2]) == "Thank you, Carol. I know your voice now."
        assert [p.name for p in page.core.household.people()] == ["Carol"]  # type: ignore[union-attr]

        status, listed, _ = page.run(_request("GET", page.http + "api/people", token))
        assert status == 200 and listed["people"] == [], "a phone paired as nobody sees no voices"
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/Carol", token))
        assert status == 403 and "assistant pair --admin" in body["error"]
        admin = page.pair("Admin phone", admin=True)
        status, listed, _ = page.run(_request("GET", page.http + "api/people", admin))
        assert status == 200 and [(p["name"], p["role"], p["clips"]) for p in listed["people"]] == [
            ("Carol", "adult", 3)
        ]
        assert "voiceprint" not in json.dumps(listed)
        role = page.http + "api/people/Carol/role"
        status, body, _ = page.run(_request("PUT", role, token, json={"role": "adult"}))
        assert status == 403 and "admin phone" in body["error"], "only an admin phone gives roles"
        status, body, _ = page.run(_request("PUT", role, admin, json={"role": "child"}))
        assert status == 409 and "Carol is the only adult I know" in body["error"]
        for bad in ({"role": 7}, {"role": "../../x"}, {}):
            status, body, _ = page.run(_request("PUT", role, admin, json=bad))
            assert status == 400 and "role" in body["error"], bad
        status, body, _ = page.run(_request("PUT", page.http + "api/people/Zed/role", admin, json={"role": "adult"}))
        assert status == 404 and "I don't know anyone called Zed" in body["error"]
        status, body, _ = page.run(_request("PUT", role, admin, json={"role": "adult"}))
        assert status == 200 and body == {"person": body["person"], "was": "adult"}
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/..%2F..%2Fvault", admin))
        assert status == 400 and "is not a name I can use" in body["error"]
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/Carol", admin))
        assert status == 200 and page.core.household.people() == []  # type: ignore[union-attr]
        assert body == {"forgotten": "Carol", "kept": []}, "Carol set nothing: nothing stays under her name"
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/Carol", admin))
        assert status == 404

        # A child's phone does not forget the last voice: with none, every voice may do what an adult may.
        from assistant.people.voiceprints import PURPOSE, Person, Voiceprints
        from assistant.trust.vault import Vault

        data = tmp_path / "data"
        Voiceprints(data, Vault(data).derived_key(PURPOSE)).save(
            Person("Dora", "child", np.ones(256, np.float32) / 16.0, time.time(), 3)
        )
        page.wait_for(lambda: page.core.household.find("Dora") is not None)  # type: ignore[union-attr]
        doras = page.pair("Dora's phone", person="Dora")
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/Dora", doras))
        assert status == 409 and "Dora's is the only voice I know" in body["error"]
        status, body, _ = page.run(_request("DELETE", page.http + "api/people/Dora", admin))
        assert status == 200 and body["forgotten"] == "Dora"
    finally:
        stop_page(page)


def test_pages_are_public_but_private_things_are_not(page: Page) -> None:
    status, body, headers = page.run(_request("GET", page.https))
    assert status == 200 and "Hold to talk" in body and "default-src 'self'" in headers["Content-Security-Policy"]
    for path in ("static/app.js", "static/app.css", "manifest.webmanifest", "sw.js", "static/icon-192.png"):
        assert page.run(_request("GET", page.http + path))[0] == 200, path
    manifest = page.run(_request("GET", page.http + "manifest.webmanifest"))[1]
    assert manifest["display"] == "standalone" and any(i["sizes"] == "512x512" for i in manifest["icons"])
    assert page.run(_request("GET", page.http + "static/../web.json"))[0] in (403, 404)


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **WEB_ENV}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_pair_and_phones_cli_while_stopped_and_while_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = _cli("pair", data_dir=data)
    assert out.returncode == 0, out.stderr
    assert "Pairing code: " in out.stdout and "not running" in out.stdout
    nobody = _cli("pair", "--person", "Zed", data_dir=data)
    assert nobody.returncode != 0 and "nobody called 'Zed' is enrolled" in nobody.stderr
    assert "Traceback" not in nobody.stderr
    offline = json.loads(_cli("pair", "--json", data_dir=data).stdout)
    page = start_page(data)
    lock = DataDirLock(data)
    lock.acquire("the test's assistant")  # as `assistant run` holds it
    try:
        # A code made while it was stopped still pairs.
        status, body, _ = page.run(
            _request("POST", page.http + "api/pair", json={"code": offline["code"], "name": "Sofa tablet"})
        )
        assert status == 200
        token = body["token"]
        running = _cli("pair", "--json", data_dir=data)
        assert running.returncode == 0, running.stderr
        code = json.loads(running.stdout)["code"]
        assert page.run(_request("POST", page.http + "api/pair", json={"code": code, "name": "Hall phone"}))[0] == 200
        listed = _cli("phones", data_dir=data)
        assert "Sofa tablet" in listed.stdout and "Hall phone" in listed.stdout
        revoked = _cli("phones", "revoke", "Sofa tablet", data_dir=data)
        assert revoked.returncode == 0 and "no longer works" in revoked.stdout
        assert page.run(_request("GET", page.http + "api/me", token))[0] == 401  # at once, in the running assistant
        missing = _cli("phones", "revoke", "nobody", data_dir=data)
        assert missing.returncode != 0 and "no paired phone" in missing.stderr and "Traceback" not in missing.stderr
        qr = _cli("pair", data_dir=data)
        assert "#code=" in qr.stdout and "fingerprint" in qr.stdout and ("█" in qr.stdout or "▀" in qr.stdout)
        assert "a phone cannot reach it" in qr.stdout, "the page is bound to loopback here: say how to open it up"
    finally:
        lock.release()
        stop_page(page)


def _wait_for_page(proc: subprocess.Popen[str], info: Path, timeout_s: float = 120) -> None:
    """Until `assistant run` has written its server.json (it failing or timing out fails the test)."""

    def written() -> bool:
        if info.exists():
            return True
        assert proc.poll() is None, proc.communicate()[1]
        return False

    wait_for(written, timeout_s, "the page started (server.json written)")


@pytest.mark.slow_model
def test_run_serves_the_page_while_it_listens(tmp_path: Path) -> None:
    """`assistant run --web` on a real-time WAV: the page answers while the voice loop runs, and its
    address is printed; the data folder keeps no trace of the server once it stops."""
    import urllib.request

    clip = sf.save(tmp_path / "in.wav", sf.command("What time is it?"), sf.silence(6.0))
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(clip),
            "--audio-out",
            str(tmp_path / "out.wav"),
            "--realtime",
            "--web",
            "--data-dir",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **WEB_ENV},
    )
    info = data / "web" / "server.json"
    try:
        _wait_for_page(proc, info)
        loopback = json.loads(info.read_text())["loopback"]
        with urllib.request.urlopen(loopback, timeout=5) as r:
            assert r.status == 200 and b"Hold to talk" in r.read()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Phone page: https://127.0.0.1:" in out and "assistant pair" in out
    assert not info.exists()


@pytest.mark.slow_model
def test_with_reply_on_room_a_phone_request_is_answered_by_the_room_speaker(tmp_path: Path) -> None:
    """`web.reply_on: room`: push-to-talk from a phone, and the reply is spoken by the assistant's own
    speaker (the voice loop's output, here a WAV file) instead of streamed back to the phone."""
    import asyncio

    from assistant.audio.wav import read_wav

    clip = sf.save(tmp_path / "in.wav", sf.silence(16.0))  # nobody speaks in the room
    data, out, events = tmp_path / "data", tmp_path / "out.wav", tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(clip),
            "--audio-out",
            str(out),
            "--events",
            str(events),
            "--realtime",
            "--web",
            "--data-dir",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **WEB_ENV, "ASSISTANT__WEB__REPLY_ON": "room"},
    )
    info = data / "web" / "server.json"

    async def talk(loopback: str) -> list[Any]:
        key = admin_key(data)
        _, code, _ = await _request("POST", loopback + "admin/pair-code", headers={ADMIN_HEADER: key}, json={})
        _, paired, _ = await _request("POST", loopback + "api/pair", json={"code": code["code"], "name": "Sofa"})
        pcm = np.concatenate([sf.silence(0.3), sf.piper("What time is it?"), sf.silence(0.3)])
        got: list[Any] = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                loopback + "api/ws",
                headers={"Cookie": f"assistant_token={paired['token']}", "Origin": loopback.rstrip("/")},
            ) as ws:
                await ws.send_str(json.dumps({"type": "ptt_start", "rate": 16000}))
                await ws.send_bytes(pcm.astype("<i2").tobytes())
                await ws.send_str(json.dumps({"type": "ptt_end"}))
                async with asyncio.timeout(60):
                    async for msg in ws:
                        got.append(msg.data if msg.type == aiohttp.WSMsgType.BINARY else json.loads(msg.data))
                        if isinstance(got[-1], dict) and got[-1].get("type") == "tts_end" and got[-1].get("turn") == 0:
                            break  # the room has said it
        return got

    try:
        _wait_for_page(proc, info)
        got = asyncio.run(talk(json.loads(info.read_text())["loopback"]))
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert not any(isinstance(m, bytes) or m.get("type") == "reply_audio" for m in got), "no audio to the phone"
    reply = next(m for m in got if m["type"] == "reply")
    assert reply["text"].startswith("It's ")
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    spoken = next(e for e in logged if e["type"] == "tts_start" and e["audio_t"] >= 0)
    room = read_wav(out)  # 16 kHz
    after = room[int(spoken["audio_t"] * 16000) :]
    assert np.abs(after).max() > 1000, "the reply is in the room's audio"


def test_album_thumbnails_are_small_jpegs_of_the_albums_photos(tmp_path: Path) -> None:
    """An album on the page lists photo ids; each thumbnail is a JPEG at most THUMB_PX on a side, made
    once and then served from the data folder; a video, or a photo gone from the library, is a 404."""
    import asyncio
    import io

    from PIL import Image

    from assistant.media.albums import Selection
    from assistant.web.views import THUMB_PX
    from testbed.fakes.media_library import make_library

    root = tmp_path / "Pictures"
    make_library(root, photos=24, seed=3)
    page = start_page(
        tmp_path / "data",
        env={"ASSISTANT__FOLDERS__PHOTOS": str(root), "ASSISTANT__MEDIA__MUSIC_OUTPUT": str(tmp_path / "music.wav")},
    )

    async def fetch(url: str, token: str) -> tuple[int, str, bytes]:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}, ssl=NO_VERIFY) as r:
                return r.status, r.headers.get("Content-Type", ""), await r.read()

    try:
        media = page.core.media
        assert media is not None
        page.run(asyncio.to_thread(media.scan))
        page.run(asyncio.to_thread(media.albums.create, "everything", Selection()))
        token = page.pair()
        albums = page.run(_request("GET", page.http + "api/state", token))[1]["albums"]
        album = next(a for a in albums if a["name"] == "everything")
        assert album["count"] >= 24 and album["preview"]
        served = []
        for photo in album["preview"]:
            status, kind, jpeg = page.run(fetch(page.http + f"api/media/thumb/{photo}", token))
            if status == 404:  # the library holds damaged photos on purpose ("Recovered/")
                row = media.catalogue.file(photo)
                assert row is not None
                with pytest.raises(OSError):
                    Image.open(row.path).load()
                continue
            assert status == 200 and kind == "image/jpeg"
            with Image.open(io.BytesIO(jpeg)) as image:
                assert image.format == "JPEG" and max(image.size) <= THUMB_PX
            served.append((photo, jpeg))
        assert served
        first, jpeg = served[0]
        assert len(list((tmp_path / "data" / "web" / "thumbs").glob(f"{first}-*.jpg"))) == 1
        assert page.run(fetch(page.http + f"api/media/thumb/{first}", token))[2] == jpeg  # from the cache
        videos = [r for r in media.catalogue.files() if r.kind == "video"]
        assert videos, "the library holds phone videos"
        assert page.run(fetch(page.http + f"api/media/thumb/{videos[0].id}", token))[0] == 404
        row = media.catalogue.file(first)
        assert row is not None
        Path(row.path).unlink()
        page.run(asyncio.to_thread(media.scan))
        assert page.run(fetch(page.http + f"api/media/thumb/{first}", token))[0] == 404
    finally:
        stop_page(page)
