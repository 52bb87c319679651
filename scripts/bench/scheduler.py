#!/usr/bin/env python
"""How late the scheduler fires with 10,000 items stored, how fast it starts, and what the routine
engine adds per step; each against a baseline in the same run.

    .venv/bin/python scripts/bench/scheduler.py [--items 10000] [--firing 200] [--window 20]

- Lateness: `--items` reminders are stored; `--firing` of them are due at random times over the next
  `--window` seconds, the rest days ahead. Lateness is the wall clock at the callback minus the due
  time. Baseline: bare asyncio `call_at` timers for the same due times, in the same process.
- Start-up: constructing the scheduler on the data folder with every item (read, parse, plan).
  Baseline: `json.load` of the same file.
- Routine step overhead: a chain of 50 steps calling `clock.get_time`, per step, minus calling the
  tool 50 times directly (baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import build_core  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import SchedulerConfig, load_config  # noqa: E402
from assistant.routines.runner import RoutineRunner  # noqa: E402
from assistant.routines.workflows import load_routine  # noqa: E402
from assistant.scheduling.items import Due  # noqa: E402
from assistant.scheduling.scheduler import Scheduler  # noqa: E402


def _stats(values_s: list[float]) -> str:
    ordered = sorted(values_s)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"median {statistics.median(ordered) * 1000:6.2f} ms, p99 {p99 * 1000:6.2f} ms, "
        f"max {ordered[-1] * 1000:6.2f} ms (n={len(ordered)})"
    )


async def lateness(data_dir: Path, items: int, firing: int, window: float) -> tuple[list[float], list[float], float]:
    rng = random.Random(7)
    now = time.time()
    soon = [now + 2.0 + rng.uniform(0, window) for _ in range(firing)]
    later = [now + 86400 * rng.uniform(1, 30) for _ in range(items - firing)]
    scheduler = Scheduler(data_dir, SchedulerConfig(timezone="UTC"))
    start = time.perf_counter()
    scheduler.add_reminders([(f"item {i}", at) for i, at in enumerate(soon + later)])
    stored_s = time.perf_counter() - start
    late: list[float] = []
    done = asyncio.Event()

    async def on_due(due: Due) -> None:
        late.append(time.time() - due.item.due_at)
        if len(late) == firing:
            done.set()

    base: list[float] = []
    loop = asyncio.get_running_loop()

    def baseline_fire(at: float) -> None:
        base.append(time.time() - at)

    for at in soon:  # the floor: the event loop's own timers for the same moments
        loop.call_at(loop.time() + (at - time.time()), baseline_fire, at)
    scheduler.start(on_due)
    await asyncio.wait_for(done.wait(), window + 30)
    await scheduler.stop()
    return late, base, stored_s


def startup(data_dir: Path) -> tuple[float, float, int]:
    path = data_dir / "scheduler.json"
    runs, base = [], []
    for _ in range(5):
        start = time.perf_counter()
        json.loads(path.read_text())
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        scheduler = Scheduler(data_dir, SchedulerConfig(timezone="UTC"))
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), statistics.median(base), len(scheduler.reminders(include_done=True))


async def step_overhead(tmp: Path, steps: int = 50) -> tuple[float, float]:
    core = build_core(load_config(environ={"ASSISTANT__UNDERSTANDING__PLANNER": "false"}), tmp / "core", Bus())
    lines = ["name: chain", "steps:"]
    for i in range(steps):
        lines += [f"  - id: s{i}", "    tool: clock.get_time"] + ([f"    depends_on: [s{i - 1}]"] if i else [])
    path = tmp / "chain.yaml"
    path.write_text(textwrap.dedent("\n".join(lines)) + "\n")
    routine = load_routine(path, core.registry.tool)
    runner = RoutineRunner(tmp / "journal", core.registry.tool)
    spec = core.registry.tool("clock.get_time")
    per_step, direct = [], []
    for _ in range(5):
        start = time.perf_counter()
        run = await runner.run(routine)
        assert run["state"] == "done"
        per_step.append((time.perf_counter() - start) / steps)
        start = time.perf_counter()
        for _ in range(steps):
            await asyncio.to_thread(spec.func)
        direct.append((time.perf_counter() - start) / steps)
    return statistics.median(per_step), statistics.median(direct)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--firing", type=int, default=200)
    ap.add_argument("--window", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        late, base, stored_s = await lateness(tmp / "data", args.items, args.firing, args.window)
        print(
            f"{args.items} reminders stored in one write in {stored_s * 1000:.0f} ms; "
            f"{args.firing} due over {args.window:g} s, the rest days ahead"
        )
        print("\n== lateness of firing (callback time minus due time) ==")
        print(f"scheduler            {_stats(late)}   target p99 ≤ 50 ms")
        print(f"baseline call_at     {_stats(base)}")
        ours, json_only, count = startup(tmp / "data")
        print(f"\n== start-up with {count} items in the store (median of 5) ==")
        print(f"scheduler            {ours * 1000:7.1f} ms   target ≤ 1000 ms")
        print(f"baseline json.load   {json_only * 1000:7.1f} ms")
        per_step, direct = await step_overhead(tmp)
        print("\n== routine engine, per step of a 50-step chain (median of 5 runs) ==")
        print(f"through the engine   {per_step * 1000:7.2f} ms (two journal checkpoints per step)")
        print(f"baseline direct call {direct * 1000:7.2f} ms")
        print(f"overhead             {(per_step - direct) * 1000:7.2f} ms per step")


if __name__ == "__main__":
    asyncio.run(main())
