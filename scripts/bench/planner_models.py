#!/usr/bin/env python
"""The planner's time on two model files, interleaved in one process (issue 27).

    .venv/bin/python scripts/bench/planner_models.py [--models qwen2.5-coder-1.5b-q4_k_m,qwen2.5-coder-1.5b]

End-to-end runs of scripts/bench/llm_path.py measure one revision after the other, and on this
machine two such runs disagreed by more than the difference between the files. Here both planners are
loaded in one process and each of llm_path_set.yaml's planned requests is planned by one then the
other (the order swapped each round), with the request's KV reset to the system prompt each time, as
a new request finds it: the figure is the time of `plan_sync`, text in, tool call out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from assistant.app.runtime import build_core  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.understanding.prompt import PlanContext  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="qwen2.5-coder-1.5b-q4_k_m,qwen2.5-coder-1.5b")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    requests = yaml.safe_load((HERE / "llm_path_set.yaml").read_text())
    context = PlanContext(live=requests["live"])
    planners = {}
    with tempfile.TemporaryDirectory(prefix="planner-models-") as data:
        for model in args.models.split(","):
            config = load_config(environ={**os.environ, "ASSISTANT__PLANNER__MODEL": model})
            core = build_core(config, Path(data) / model, Bus())
            assert core.planner is not None
            planners[model] = core.planner.load_sync(warm=True)
        seconds: dict[str, list[float]] = {m: [] for m in planners}
        calls: dict[str, list[str]] = {m: [] for m in planners}
        for round_ in range(args.rounds):
            for text, _tool, _args in requests["planned"]:
                for model in list(planners) if round_ % 2 == 0 else list(reversed(planners)):
                    planner = planners[model]
                    planner.llm.n_tokens = len(planner.engine.tokens(planner.template.prefix))
                    start = time.perf_counter()
                    call = planner.plan_sync(text, context)
                    seconds[model].append(time.perf_counter() - start)
                    calls[model].append(f"{call.tool} {call.args}" if call else "none")
    for model, took in seconds.items():
        print(
            f"{model:28s} plan median {statistics.median(took):.3f} s, mean {statistics.mean(took):.3f} s "
            f"(n={len(took)})"
        )
    first, *others = planners
    for model in others:
        same = sum(a == b for a, b in zip(calls[first], calls[model], strict=True))
        print(f"the same tool call from {first} and {model}: {same}/{len(calls[first])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
