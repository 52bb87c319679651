#!/usr/bin/env python
"""The companion page in headless Chromium against the real assistant (real speech models):

  - push-to-talk release → first reply audio on the page (the fake microphone speaks a command;
    measured in the page from the button's release to the first reply samples arriving);
  - page load: opening the page of a paired phone until it is ready (state shown, websocket open);
  - event delivery: an event published on the assistant's bus → the page's handler has it.

Baseline in the same run: the same recording handed to the server's push-to-talk code directly
(no browser, no websocket, no flush from the audio worklet): what the page itself adds.

    .venv/bin/python scripts/bench/phone.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import load_speech_models  # noqa: E402
from assistant.audio.wav import write_wav  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.core.events import Reply  # noqa: E402
from assistant.web.auth import Phone  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.web import CHROMIUM, WEB_ENV, launch_chromium, open_phone, pair_in_browser, start_page, stop_page  # noqa: E402

COMMAND = "What time is it?"
BENCH_PHONE = Phone("bench", "bench phone", 0.0, None)


def _stats(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"median {statistics.median(values):7.1f} ms, p90 {p90:7.1f} ms, n={len(values)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    if not CHROMIUM.exists():
        print("chromium is missing: run ./scripts/setup", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    models = asyncio.run(load_speech_models(load_config(environ=WEB_ENV)))
    speech = sf.piper(COMMAND)
    lead_s = 1.5
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = tmp / "command.wav"
        write_wav(clip, np.concatenate([sf.silence(lead_s), speech, sf.silence(1.0)]), sf.SAMPLE_RATE)
        hold_ms = int((lead_s + len(speech) / sf.SAMPLE_RATE + 0.3) * 1000)
        page = start_page(tmp / "data", models)
        try:
            # Baseline: the server's own push-to-talk path, no browser.
            direct = []
            pcm = np.concatenate([sf.silence(0.3), speech, sf.silence(0.3)])
            for _ in range(args.rounds):
                first: list[float] = []

                def send(item: object, first: list[float] = first) -> None:
                    if isinstance(item, bytes) and not first:
                        first.append(time.perf_counter())

                start = time.perf_counter()
                page.run(page.server.talk.spoken(BENCH_PHONE, pcm, sf.SAMPLE_RATE, send))  # type: ignore[union-attr]
                direct.append((first[0] - start) * 1000)

            release, loads, delivery = [], [], []
            with sync_playwright() as pw:
                for _ in range(args.rounds):
                    browser = launch_chromium(pw, clip)
                    try:
                        tab = open_phone(browser, page.http)
                        pair_in_browser(tab, page, page.http)
                        button = tab.get_by_role("button", name="Hold to talk")
                        button.hover()
                        tab.mouse.down()
                        tab.wait_for_timeout(hold_ms)
                        tab.mouse.up()
                        tab.wait_for_function("() => window.__firstAudioAt > 0", timeout=30000)
                        release.append(tab.evaluate("window.__firstAudioAt - window.__releasedAt"))
                        print(f"  round {len(release)}: release -> first audio {release[-1]:.0f} ms", flush=True)
                        # Page load of a paired phone (its cookie is set now).
                        start = time.perf_counter()
                        tab.reload()
                        tab.wait_for_function(
                            "() => document.querySelector('#status').textContent === 'Ready' && "
                            "document.querySelector('#timers').children.length > 0"
                        )
                        loads.append((time.perf_counter() - start) * 1000)
                        # Event delivery: bus → page handler, on one clock.
                        tab.evaluate(
                            "window.__got = []; window.addEventListener('assistant-event', "
                            "(e) => { if (e.detail.type === 'reply') window.__got.push(Date.now() / 1000 - e.detail.t); })"
                        )
                        for _ in range(5):
                            page.loop.call_soon_threadsafe(page.core.bus.publish, Reply(text="bench"))
                            tab.wait_for_timeout(50)
                        tab.wait_for_function("() => window.__got.length >= 5")
                        delivery += [d * 1000 for d in tab.evaluate("window.__got")]
                    finally:
                        browser.close()
        finally:
            stop_page(page)
    print(f"Companion page, {args.rounds} rounds, '{COMMAND}' (tiny.en, Piper), 2 cores:")
    print(f"  push-to-talk release -> first reply audio on the page: {_stats(release)}")
    print(f"  baseline, the same recording straight into the server:  {_stats(direct)}")
    print(f"  page load (paired phone, until ready):                   {_stats(loads)}")
    print(f"  event delivery (bus -> page handler):                    {_stats(delivery)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
