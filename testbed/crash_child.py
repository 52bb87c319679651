"""The process the crash test kills: it resumes what was interrupted, then keeps running a routine
and adding timers, printing `ack timer <id>` once each timer is durably stored, until killed."""

import asyncio
import os
import sys
from pathlib import Path

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config

ROUTINE = """\
name: crash
steps:
  - id: a
    say: a
  - id: b
    say: b
  - id: c
    say: "c after ${steps.a.output}"
    depends_on: [a, b]
  - id: d
    tool: timer.status
    depends_on: [c]
  - id: e
    say: e
    depends_on: [d]
"""


async def main(data_dir: Path, effects: Path) -> None:
    (data_dir / "routines").mkdir(parents=True, exist_ok=True)
    (data_dir / "routines" / "crash.yaml").write_text(ROUTINE)
    core = build_core(load_config(environ={"ASSISTANT__UNDERSTANDING__PLANNER": "false"}), data_dir, Bus())
    runner = core.routines.runner
    routine = core.routines.get("crash")
    assert routine is not None, core.routines.errors
    out = open(effects, "a", encoding="utf-8")

    async def speak(text: str) -> None:
        (run,) = runner.interrupted()  # the one run in progress
        out.write(f"{run['run_id']} {text.split()[0]}\n")
        out.flush()
        os.fsync(out.fileno())

    runner.speak = speak
    for run in runner.interrupted():
        await runner.resume(routine, run)
    print("ready", flush=True)
    while True:
        await runner.run(routine, "crash-test")
        timer = await asyncio.to_thread(core.scheduler.add_timer, 3600, None)
        print(f"ack timer {timer.id}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
