#!/usr/bin/env python
"""The planner's time on two revisions of the code, interleaved (issue 27).

    .venv/bin/python scripts/bench/planner_revisions.py --baseline REV [--rounds 3]

scripts/bench/llm_path.py runs one revision after the other, and on this machine two such runs
disagree by more than a change to the prompt or the decoder moves the planner. Here each revision
(the baseline from a git worktree, and this checkout) loads its planner in a process of its own, and
each of llm_path_set.yaml's planned requests is planned by one then the other, the order swapped each
round; only one of them runs at a time. Each plan starts from the system prompt's KV state, as a new
request finds it. The figure is the time of `plan_sync`, text in, tool call out, with the model file
of the config's default in both.
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
with tempfile.TemporaryDirectory(prefix="planner-revision-") as data:
    core = build_core(load_config(environ=dict(os.environ)), Path(data), Bus())
    planner = core.planner.load_sync(warm=True)
    fixed = len(planner.engine.tokens(planner.template.prefix))
    print("ready", flush=True)
    for line in sys.stdin:
        planner.llm.n_tokens = fixed
        start = time.perf_counter()
        call = planner.plan_sync(json.loads(line), PlanContext(live=live))
        took = time.perf_counter() - start
        print(json.dumps([took, f"{call.tool} {call.args}" if call else "none"]), flush=True)
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
    line = worker.stdout.readline()
    if line.strip() != "ready":
        raise SystemExit(f"the planner of {tree} did not load")
    return worker


def _plan(worker: subprocess.Popen[str], text: str) -> tuple[float, str]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps(text) + "\n")
    worker.stdin.flush()
    took, call = json.loads(worker.stdout.readline())
    return float(took), str(call)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="the git revision to compare this checkout with")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    requests = HERE / "llm_path_set.yaml"
    texts = [text for text, _tool, _args in yaml.safe_load(requests.read_text())["planned"]]
    base = Path(tempfile.mkdtemp(prefix="planner-baseline-"))
    shutil.rmtree(base)
    subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True)
    workers = {}
    try:
        workers[f"baseline {args.baseline}"] = _worker(base, requests)
        workers["this tree"] = _worker(ROOT, requests)
        seconds: dict[str, list[float]] = {name: [] for name in workers}
        calls: dict[str, list[str]] = {name: [] for name in workers}
        for round_ in range(args.rounds):
            for text in texts:
                for name in list(workers) if round_ % 2 == 0 else list(reversed(workers)):
                    took, call = _plan(workers[name], text)
                    seconds[name].append(took)
                    calls[name].append(call)
    finally:
        for worker in workers.values():
            worker.kill()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
