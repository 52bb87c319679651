"""A Wyoming satellite as wyoming-satellite behaves toward Home Assistant, for tests and the benchmark:
a Wyoming server (the assistant connects to it), which answers `describe` with its area, and after
`run-satellite` sends `run-pipeline` and streams a WAV file's audio at real time, 1024 samples a
chunk, then silence. It plays nothing: it keeps the reply audio, says `played` after `audio-stop`,
and writes what happened, with its own clock, as JSON:

    python -m testbed.fakes.satellite --port 10700 --wav in.wav --out result.json [--area bedroom]
        [--local-wake] [--requests 1] [--timeout 60]

The result holds every event received (type, seconds since streaming began), the reply audio's
first-chunk time, and the reply as a WAV beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import async_read_event, async_write_event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played

from assistant.audio.wav import read_wav, write_wav

RATE = 16000
CHUNK = 1024
LAST = "last events"
"""The text of the ping that closes a session: the assistant answers it after all it sent before."""


class FakeSatellite:
    def __init__(self, pcm: np.ndarray, area: str | None, local_wake: bool, requests: int) -> None:
        self.pcm = pcm
        self.area = area
        self.local_wake = local_wake
        self.requests = requests
        self.events: list[dict[str, Any]] = []
        self.reply: list[np.ndarray] = []
        self.reply_rate = 22050
        self.first_reply_audio_s: list[float] = []
        self.started = 0.0
        self.done = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.caught_up = asyncio.Event()

    def at(self) -> float:
        return round(time.monotonic() - self.started, 4) if self.started else 0.0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        streaming: asyncio.Task[None] | None = None
        in_reply = False
        self.writer = writer
        try:
            while (event := await async_read_event(reader)) is not None:
                self.events.append(
                    {
                        "type": event.type,
                        "t": self.at(),
                        **({"data": event.data} if event.data and event.type != "audio-chunk" else {}),
                    }
                )
                if Describe.is_type(event.type):
                    satellite = Satellite(
                        name="fake satellite",
                        attribution=Attribution(name="tests", url=""),
                        installed=True,
                        description=None,
                        version="1",
                        area=self.area,
                    )
                    await async_write_event(Info(satellite=satellite).event(), writer)
                elif RunSatellite.is_type(event.type) and streaming is None:
                    streaming = asyncio.create_task(self.stream(writer))
                elif Ping.is_type(event.type):
                    await async_write_event(Pong(text=Ping.from_event(event).text).event(), writer)
                elif Pong.is_type(event.type) and Pong.from_event(event).text == LAST:
                    self.caught_up.set()
                elif AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    self.reply_rate, in_reply = start.rate, True
                elif AudioChunk.is_type(event.type) and in_reply:
                    if len(self.first_reply_audio_s) < len(self.reply_starts()):
                        self.first_reply_audio_s.append(self.at())
                    self.reply.append(np.frombuffer(AudioChunk.from_event(event).audio, np.int16))
                elif AudioStop.is_type(event.type) and in_reply:
                    in_reply = False
                    await async_write_event(Played().event(), writer)
                    if len(self.first_reply_audio_s) >= self.requests:
                        self.done.set()
        finally:
            if streaming is not None:
                streaming.cancel()
            writer.close()

    async def last_events(self, timeout_s: float = 10.0) -> None:
        """Until every event the assistant sent before now has come in: it answers a ping in turn,
        after all it was sent before it, so its pong comes after anything it said in reply to them."""
        if self.writer is None or self.writer.is_closing():
            return  # no connection: nothing more will come
        with contextlib.suppress(OSError, TimeoutError):  # it hung up meanwhile, or never answers
            await async_write_event(Ping(text=LAST).event(), self.writer)
            await asyncio.wait_for(self.caught_up.wait(), timeout_s)

    def reply_starts(self) -> list[float]:
        return [e["t"] for e in self.events if e["type"] == "audio-start"]

    async def stream(self, writer: asyncio.StreamWriter) -> None:
        """The microphone: the WAV at real time, then silence, as the real satellite streams."""
        stage = PipelineStage.ASR if self.local_wake else PipelineStage.WAKE
        await async_write_event(
            RunPipeline(
                start_stage=stage,
                end_stage=PipelineStage.TTS,
                restart_on_end=True,
                wake_word_name="hey_jarvis" if self.local_wake else None,
            ).event(),
            writer,
        )
        self.started = time.monotonic()
        sent = 0
        silence = np.zeros(CHUNK, np.int16)
        while True:
            part = self.pcm[sent : sent + CHUNK] if sent < len(self.pcm) else silence
            chunk = AudioChunk(
                rate=RATE, width=2, channels=1, audio=part.astype("<i2").tobytes(), timestamp=sent * 1000 // RATE
            )
            await async_write_event(chunk.event(), writer)
            sent += len(part)
            # Not a wait: paces the microphone at real time, as a real satellite streams.
            await asyncio.sleep(max(0.0, self.started + sent / RATE - time.monotonic()))


async def main_async(args: argparse.Namespace) -> int:
    pcm = read_wav(Path(args.wav))
    satellite = FakeSatellite(pcm, args.area, args.local_wake, args.requests)
    server = await asyncio.start_server(satellite.serve, args.host, args.port)
    print(f"listening on {args.host}:{server.sockets[0].getsockname()[1]}", flush=True)
    try:
        await asyncio.wait_for(satellite.done.wait(), args.timeout)
        ok = True
    except TimeoutError:
        ok = False
    await satellite.last_events()
    server.close()
    out = Path(args.out)
    reply = np.concatenate(satellite.reply) if satellite.reply else np.zeros(0, np.int16)
    write_wav(out.with_suffix(".wav"), reply, satellite.reply_rate)
    out.write_text(
        json.dumps(
            {
                "ok": ok,
                "events": satellite.events,
                "first_reply_audio_s": satellite.first_reply_audio_s,
                "reply_s": len(reply) / satellite.reply_rate,
            }
        )
    )
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=10700)
    ap.add_argument("--wav", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--area")
    ap.add_argument("--local-wake", action="store_true")
    ap.add_argument("--requests", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    return asyncio.run(main_async(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
