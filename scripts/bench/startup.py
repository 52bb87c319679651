#!/usr/bin/env python
"""Start-up and cold one-shot commands: time to `ready`, to the LLM loaded, and peak memory.

    .venv/bin/python scripts/bench/startup.py [--baseline REV] [--runs 3] [--household] [--json FILE]

Each figure is a fresh process, as a user starts it:
- `assistant run --audio-in` on a clip (the wake word, "what time is it", then "please get rid of
  every single timer", which the templates miss): launch → `ready` (listening), launch → the LLM
  loaded (its `service` event, or `ready` where it loads before listening), launch → the first reply
  audio, the whole run's wall time, and its peak RSS;
- `assistant ask` cold on the template path ("what time is it") and on the LLM path ("please get rid
  of every single timer"): wall time and peak RSS.

With `--household`, `assistant run` has every model loaded: a documents folder (one document, which
loads the knowledge embedder) and a voice enrolled (which loads the speaker encoder), as a household's
assistant has them; the asks run as without.

With `--baseline REV`, that revision runs first, from a git worktree, with the same virtual
environment, models and clips, in the same run: the figures are compared side by side (medians).
Peak RSS is the kernel's high-water mark for the process (getrusage via wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from testbed import speech as sf  # noqa: E402

TEMPLATE = "what time is it"
NEEDS_LLM = "please get rid of every single timer"


def launch(tree: Path, args: list[str], data: Path) -> tuple[float, float, int, str]:
    """Run `python -m assistant ARGS` from `tree`; (launch wall time, seconds, peak RSS MB, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    err = tempfile.TemporaryFile()
    started_wall, started = time.time(), time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", *args, "--data-dir", str(data)],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"`assistant {' '.join(args[:2])}` failed in {tree} ({proc.returncode}):\n{stderr[-2000:]}")
    return started_wall, seconds, usage.ru_maxrss // 1024, stderr


DOCUMENT = (
    "The boiler is serviced every October by Smith Heating. Its filter is in the cupboard under the stairs, "
    "and the stopcock is under the kitchen sink.\n"
)
ENROLMENT = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please remember to water the tomato plants before the weekend.",
    "My favourite breakfast is porridge with honey and a cup of tea.",
)


def make_household(tree: Path, work: Path, shared: Path) -> None:
    """A documents folder with one document, and one voice enrolled, in the data folder `work`."""
    (work / "config.yaml").write_text(f"folders:\n  documents: {shared / 'documents'}\n")
    clips = [f"--audio={path}" for path in sorted(shared.glob("enrol-*.wav"))]
    launch(tree, ["people", "enroll", "Anna", *clips], work)


def run_once(tree: Path, clip: Path, work: Path, household: Path | None) -> dict[str, float]:
    events_file = work / "events.jsonl"
    if household is not None:
        make_household(tree, work, household)
    started, wall, rss, _ = launch(
        tree, ["run", "--audio-in", str(clip), "--audio-out", str(work / "out.wav"), "--events", str(events_file)], work
    )
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    ready = next(e["t"] for e in events if e["type"] == "ready")
    loaded = next(
        (e["t"] for e in events if e["type"] == "service" and e["service"] == "llm" and e["state"] == "running"),
        ready,  # before: the LLM loaded before the loop listened
    )
    first_audio = next(e["t"] for e in events if e["type"] == "tts_start")
    intents = [(e["tool"], e["source"]) for e in events if e["type"] == "intent"]
    if intents != [("clock.get_time", "template"), ("timer.clear_all", "llm")]:
        raise SystemExit(f"the run in {tree} understood {intents}")
    return {
        "ready_s": ready - started,
        "llm_loaded_s": loaded - started,
        "first_reply_audio_s": first_audio - started,
        "wall_s": wall,
        "peak_rss_mb": rss,
    }


def ask_once(tree: Path, text: str, work: Path) -> dict[str, float]:
    _, wall, rss, _ = launch(tree, ["ask", text], work)
    return {"wall_s": wall, "peak_rss_mb": rss}


def measure(tree: Path, clip: Path, runs: int, work: Path, household: Path | None) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {"run": {}, "ask template": {}, "ask llm": {}}
    for i in range(runs):
        for name, one in (
            ("run", lambda w: run_once(tree, clip, w, household)),
            ("ask template", lambda w: ask_once(tree, TEMPLATE, w)),
            ("ask llm", lambda w: ask_once(tree, NEEDS_LLM, w)),
        ):
            folder = work / f"{name.replace(' ', '-')}-{i}"
            folder.mkdir(parents=True)
            for key, value in one(folder).items():
                figures[name].setdefault(key, []).append(value)
            print(f"  {tree.name or tree} run {i + 1}: {name} done", flush=True)
    return figures


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", metavar="REV", help="a revision to measure first, in the same run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--household", action="store_true", help="run with a documents folder and an enrolled voice")
    p.add_argument("--json", type=Path, metavar="FILE")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp_name:
        tmp = Path(tmp_name)
        clip = sf.save(
            tmp / "clip.wav",
            sf.command(TEMPLATE.capitalize() + "?"),
            sf.command(NEEDS_LLM.capitalize() + "."),
            sf.silence(2),
        )
        household = None
        if args.household:
            household = tmp / "household"
            (household / "documents").mkdir(parents=True)
            (household / "documents" / "boiler.txt").write_text(DOCUMENT)
            for i, sentence in enumerate(ENROLMENT):
                sf.save(household / f"enrol-{i}.wav", sf.silence(0.3), sf.speak(sentence), sf.silence(0.3))
        trees: list[tuple[str, Path]] = []
        if args.baseline:
            base = tmp / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True)
            trees.append((f"baseline {args.baseline}", base))
        trees.append(("this tree", ROOT))
        results: dict[str, Any] = {}
        try:
            for label, tree in trees:
                # As setup leaves a tree: its modules compiled (where Python may not write them, each
                # command would compile them again, and a baseline worktree would pay what this tree does not).
                subprocess.run([sys.executable, "-m", "compileall", "-q", "assistant", "skills"], cwd=tree, check=True)
                print(f"measuring {label} ({args.runs} runs)", flush=True)
                results[label] = measure(tree, clip, args.runs, tmp / label.replace(" ", "-"), household)
        finally:
            if args.baseline:
                subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "baseline")], cwd=ROOT, check=False)
                shutil.rmtree(tmp / "baseline", ignore_errors=True)
    print(f"\nmedians of {args.runs} runs each")
    for command in ("run", "ask template", "ask llm"):
        print(f"\n== {command} ==")
        keys = list(next(iter(results.values()))[command])
        print(f"{'':22}" + "".join(f"{label:>24}" for label in results))
        for key in keys:
            print(f"{key:22}" + "".join(f"{median(r[command][key]):>24.2f}" for r in results.values()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
