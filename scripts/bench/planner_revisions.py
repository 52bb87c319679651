#!/usr/bin/env python
"""The planner's time on two revisions of the code, interleaved (issue 27).

    .venv/bin/python scripts/bench/planner_revisions.py --baseline REV [--rounds 3]

scripts/bench/llm_path.py runs one revision after the other, and on this machine two such runs
disagree by more than a change to the prompt or the decoder moves the planner. Here each revision
(the baseline from a git worktree, and this checkout) loads its planner in a process of its own, and
each of llm_path_set.yaml's planned requests is planned by one then the other, the order swapped each
round; only one of them runs at a time. Each plan starts from the system prompt's KV state, as a new
request finds it. The figure is the time of `plan_sync`, text in, tool call out, with the model file
of the config's default in both. The set's `in_context` requests (a follow-up, an answer to a
question) are planned too, with the context the dialogue gives, and reported apart: how many calls
each revision got right, and which differ.
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
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

WORKER = """
import json, os, sys, tempfile, time
from pathlib import Path
import yaml
sys.path.insert(0, os.getcwd())
from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.understanding.prompt import PlanContext
live = yaml.safe_load(Path(sys.argv[1]).read_text())["live"]
fields = ("previous", "question", "only", "previous_tool")
with tempfile.TemporaryDirectory(prefix="planner-revision-") as data:
    core = build_core(load_config(environ=dict(os.environ)), Path(data), Bus())
    planner = core.planner.load_sync(warm=True)
    fixed = len(planner.engine.tokens(planner.template.prefix))
    print("ready", flush=True)
    for line in sys.stdin:
        text, given = json.loads(line)
        context = PlanContext(live=live, **{k: tuple(v) if k == "only" else v for k, v in given.items() if k in fields})
        planner.llm.n_tokens = fixed
        start = time.perf_counter()
        call = planner.plan_sync(text, context)
        took = time.perf_counter() - start
        print(json.dumps([took, [call.tool, call.args] if call else None], default=str), flush=True)
"""


def _worker(tree: Path, requests: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(requests)],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    if worker.stdout.readline().strip() != "ready":
        worker.kill()
        worker.wait()
        raise SystemExit(f"the planner of {tree} did not load (exit status {worker.returncode})")
    return worker


def _plan(worker: subprocess.Popen[str], text: str, context: dict[str, Any]) -> tuple[float, Any]:
    assert worker.stdin is not None and worker.stdout is not None
    try:
        worker.stdin.write(json.dumps([text, context]) + "\n")
        worker.stdin.flush()
    except BrokenPipeError:
        pass  # its exit is reported below
    line = worker.stdout.readline()
    if not line:
        raise SystemExit(f"a planner process ended on {text!r} (exit status {worker.wait()})")
    took, call = json.loads(line)
    return float(took), call


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="the git revision to compare this checkout with")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be 1 or more")
    requests = HERE / "llm_path_set.yaml"
    data = yaml.safe_load(requests.read_text())
    texts = [text for text, _tool, _args in data["planned"]]
    in_context = data.get("in_context", [])
    base = Path(tempfile.mkdtemp(prefix="planner-baseline-"))
    shutil.rmtree(base)
    subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True)
    workers = {}
    try:
        workers[f"baseline {args.baseline}"] = _worker(base, requests)
        workers["this tree"] = _worker(ROOT, requests)
        seconds: dict[str, list[float]] = {name: [] for name in workers}
        calls: dict[str, list[Any]] = {name: [] for name in workers}
        for round_ in range(args.rounds):
            for text in texts:
                for name in list(workers) if round_ % 2 == 0 else list(reversed(workers)):
                    took, call = _plan(workers[name], text, {})
                    seconds[name].append(took)
                    calls[name].append(call)
        followed = {
            name: [_plan(worker, case["text"], case)[1] for case in in_context] for name, worker in workers.items()
        }
    finally:
        for worker in workers.values():
            worker.kill()
            worker.wait()
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        shutil.rmtree(base, ignore_errors=True)
    for name, took in seconds.items():
        print(
            f"{name:20s} plan median {statistics.median(took):.3f} s, mean {statistics.mean(took):.3f} s (n={len(took)})"
        )
    (first, a), (second, b) = calls.items()
    print(f"the same tool call from both: {sum(x == y for x, y in zip(a, b, strict=True))}/{len(a)}")
    for text, x, y in zip(texts * args.rounds, a, b, strict=True):
        if x != y:
            print(f"  {text!r}: {first}: {x}; {second}: {y}")
    if in_context:
        print("in context (a follow-up or an answer to a question):")
        for name, got in followed.items():
            right = sum(call == case["expect"] for call, case in zip(got, in_context, strict=True))
            print(f"  {name:20s} right {right}/{len(in_context)}")
        for case, x, y in zip(in_context, *followed.values(), strict=True):
            marks = " ".join("ok" if c == case["expect"] else "BAD" for c in (x, y))
            print(f"  {marks:7s} {case['text']!r}: {first}: {x}; {second}: {y}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
