#!/usr/bin/env python
"""Fault injection as a benchmark: what the assistant keeps, and what it says, when things break.

    .venv/bin/python scripts/bench/faults.py [--kills 1000] [--seed 25] [--only kill,disk,...] [--json FILE]

- kill:     SIGKILL at random moments while timers/alarms/reminders are set and cancelled, a routine
            runs, photos are organized and put back, documents and notes are indexed (faults/kills.py)
- disk:     the data folder on a full 2 MiB tmpfs; every kind of write tried (faults/disk.py)
- readonly: the data folder bound read-only; commands that write (faults/disk.py)
- clock:    the wall clock jumps an hour forward and back with a timer, alarm, reminder pending (faults/clock.py)
- skill:    a sandboxed skill's process SIGKILLed in the middle of a call (faults/processes.py)
- llm:      the planner's LLM server SIGKILLed in the middle of a request (faults/processes.py)
- audio:    the PulseAudio null sinks unloaded under `assistant run`, then loaded again (faults/audio.py)

Each prints trials, lost, twice, changed, tracebacks, unclear messages and the median recovery
time; the target for every count is 0. Exit code 1 when a target is missed. Root is needed for
disk and readonly (the bench runs itself again inside `unshare -m`, so its mounts are private and
vanish with it); pulseaudio for audio. The work is done by forked children of this process,
which imports the assistant once, so a thousand restarts cost a thousand core builds, not a
thousand interpreter starts.
"""

from __future__ import annotations

import os

# One thread per library, before numpy loads: the bench forks, and a fork copies no threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from faults.common import TARGETS, Figures, scratch  # noqa: E402

FAULTS = ("kill", "disk", "readonly", "clock", "skill", "llm", "audio")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=1000, help="SIGKILLs in all, spread over the four kinds of work")
    p.add_argument(
        "--trials", type=int, default=3, help="kills of a skill, of the LLM server, losses of the sound card"
    )
    p.add_argument("--seed", type=int, default=25)
    p.add_argument("--only", default=",".join(FAULTS), help=f"comma-separated, of {', '.join(FAULTS)}")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure here too")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep the work folders here, to look at afterwards")
    args = p.parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(only) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
    if (
        {"disk", "readonly"} & set(only)
        and os.geteuid() == 0
        and os.environ.get("FAULTS_MOUNT_NS") != "1"
        and shutil.which("unshare")
    ):
        # Again inside a mount namespace of its own: its tmpfs and read-only mounts are private.
        env = {**os.environ, "FAULTS_MOUNT_NS": "1"}
        return subprocess.run(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                sys.executable,
                __file__,
                *(argv if argv is not None else sys.argv[1:]),
            ],
            env=env,
        ).returncode
    began = time.monotonic()
    results: list[Figures] = []
    for fault in only:
        start = time.monotonic()
        got = run_fault(fault, args)
        for f in got:
            f.info["seconds"] = round(time.monotonic() - start, 1)
            print_figures(f)
        results += got
    return report(results, args, time.monotonic() - began)


def run_fault(fault: str, args: argparse.Namespace) -> list[Figures]:
    """Each fault imports its module only when chosen; the kill fault must run first (it forks,
    and nothing may have started a thread before it)."""
    with scratch(fault, args.keep) as work:
        if fault == "kill":
            from faults import kills

            return list(kills.run(args.kills, args.seed, work).values())
        if fault in ("disk", "readonly"):
            from faults import disk

            return [disk.full(work) if fault == "disk" else disk.read_only(work)]
        if fault == "clock":
            from faults import clock

            return clock.run()
        if fault in ("skill", "llm"):
            from faults import processes

            return [processes.skill(work, args.trials) if fault == "skill" else processes.llm(work, args.trials)]
        from faults import audio

        return [audio.run(work, args.trials)]


def print_figures(f: Figures) -> None:
    if f.skipped:
        print(f"{f.fault:<20} skipped: {f.skipped}", flush=True)
        return
    rec = f.median_recovery_s
    counts = "  ".join(f"{t} {getattr(f, t)}" for t in TARGETS)
    print(
        f"{f.fault:<20} trials {f.trials:<5} {counts}  median recovery "
        f"{'-' if rec is None else f'{rec:.2f} s'}  {'target met' if f.met else 'TARGET MISSED'}",
        flush=True,
    )
    for key, value in f.info.items():
        print(f"{'':<22}{key}: {value}")
    for finding in f.findings[:8]:
        print(f"{'':<22}! {finding}")
    if len(f.findings) > 8:
        print(f"{'':<22}! … and {len(f.findings) - 8} more (--json has them all)")


def report(results: list[Figures], args: argparse.Namespace, seconds: float) -> int:
    missed = [f.fault for f in results if not f.met]
    machine = (
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print(
        f"\ntarget: 0 lost, 0 twice, 0 changed, 0 mistimed, 0 tracebacks, 0 unclear messages; "
        f"{'met by every fault' if not missed else 'MISSED by ' + ', '.join(missed)} ({seconds:.0f} s on {machine})"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine,
                    "seconds": round(seconds, 1),
                    "seed": args.seed,
                    "kills": args.kills,
                    "targets": {t: 0 for t in TARGETS},
                    "faults": [f.record() for f in results],
                },
                indent=2,
            )
        )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
