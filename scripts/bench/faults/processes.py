"""A process the assistant depends on, SIGKILLed in the middle of a request: a sandboxed skill's
worker, and the LLM server the planner talks to.

The request in flight must end soon with a clear spoken failure (no traceback in the log), and
the next request must work again without restarting the assistant; the recovery time is from the
kill (skill) or the server's return (LLM) to the first good answer.

The skill is the bench's own (written here, installed through `assistant skills install`, run in
bubblewrap as any third-party skill). The LLM server is a stand-in that speaks the OpenAI chat
API the planner uses (planner.server_url; what llama.cpp's llama-server serves): it answers with
the first tool the request offers that needs no argument, or hangs when told to. A planner
without a server runs llama.cpp inside the assistant's own process: killing that LLM kills the
assistant, which the kill fault covers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from faults.common import ENV, Figures, cli, has_traceback, in_fork

SKILL = '''
import os, time
from pathlib import Path
from typing import Annotated
from assistant.plugins.api import Permission, Skill, ToolResult, tool


class Benchmate(Skill):
    name = "benchmate"
    description = "Greets, or hangs, for the fault benchmark."
    permissions = frozenset({Permission.STORE})

    @tool
    def greet(self, name: Annotated[str, "who"]) -> ToolResult:
        """Greet someone."""
        return ToolResult(f"Hello, {name}!", {"pid": os.getpid()})

    @tool
    def hang(self) -> ToolResult:
        """Never answer."""
        (self.context.data_dir / "hanging").write_text(str(os.getpid()))
        time.sleep(3600)
        return ToolResult("Done.")
'''
SENTENCES = (
    'intents:\n  greet:\n    data:\n      - sentences:\n          - "bench greet {name}"\n'
    '  hang:\n    data:\n      - sentences:\n          - "bench hang now"\n'
    "lists:\n  name:\n    wildcard: true\n"
)


class Logged(logging.Handler):
    """Records with a traceback attached, in the child."""

    def __init__(self) -> None:
        super().__init__()
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.tracebacks.append(f"{record.name}: {record.getMessage()}")


def _spoken_failure(reply: str) -> bool:
    return reply.startswith("Sorry") and not has_traceback(reply) and "Error" not in reply and len(reply) < 200


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                kids = []
            out += kids
            todo += kids
    return out


def _worker_pid(root: int) -> int | None:
    for pid in reversed(_descendants(root)):
        try:
            if b"assistant.plugins.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


# --- a sandboxed skill ------------------------------------------------------------------------------


def skill(work: Path, trials: int) -> Figures:
    f = Figures("skill killed")
    source = work / "benchmate"
    (source / "sentences").mkdir(parents=True, exist_ok=True)
    (source / "skill.py").write_text(SKILL)
    (source / "sentences" / "en.yaml").write_text(SENTENCES)
    data = work / "data"
    code, out, err = cli(["skills", "install", str(source), "--yes", "--data-dir", str(data)])
    if code != 0:
        f.tracebacks += has_traceback(err)
        f.find(f"installing the bench skill failed: {err.strip()[-300:]}")
        return f
    got = in_fork(_skill_trials, data, trials, timeout_s=60 + 40 * trials)
    return _fill(f, got)


def _skill_trials(data: Path, trials: int) -> dict[str, Any]:
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.config import load_config

    logged = Logged()
    logging.getLogger().addHandler(logged)
    env = {**ENV, "ASSISTANT__SKILLS__CALL_TIMEOUT_S": "30"}  # the kill ends the call, not the timeout
    core = build_core(load_config(environ=env), data, Bus(), plays=False)
    process = core.registry.skill("benchmate").process  # type: ignore[attr-defined]
    marker = data / "skills" / "benchmate" / "hanging"
    results = []

    async def one() -> dict[str, Any]:
        marker.unlink(missing_ok=True)
        asked = asyncio.create_task(core.dialogue.handle("bench hang now"))
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        pid = _worker_pid(process._proc.pid) if process._proc is not None else None  # noqa: SLF001
        if pid is None:
            return {"error": "the skill's worker never started hanging"}
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        reply = await asyncio.wait_for(asked, 30)
        said_s = time.monotonic() - killed
        again, answer = None, ""
        while time.monotonic() - killed < 20:
            answer = await core.dialogue.handle("bench greet Ann")
            if answer.lower().startswith("hello, ann"):
                again = time.monotonic() - killed
                break
            await asyncio.sleep(0.2)
        return {"reply": reply, "said_s": said_s, "again_s": again, "answer": answer}

    async def main() -> None:
        first = await core.dialogue.handle("bench greet Bo")
        results.append({"warm": first})
        for _ in range(trials):
            results.append(await one())
        await core.registry.stop_all()

    asyncio.run(main())
    return {"trials": results, "tracebacks": logged.tracebacks}


def _fill(f: Figures, got: dict[str, Any]) -> Figures:
    if "error" in got:
        f.tracebacks += 1
        f.find(f"the trial failed: {got['error'].strip().splitlines()[-1]}")
        return f
    value = got["value"]
    for t in value["trials"]:
        if "warm" in t:
            f.info["before the kill"] = t["warm"]
            continue
        f.trials += 1
        if "error" in t:
            f.lost += 1
            f.find(t["error"])
            continue
        f.info["said"] = f"{t['reply']!r} after {t['said_s']:.2f} s"
        if not _spoken_failure(t["reply"]):
            f.unclear += 1
            f.find(f"the request in flight was answered {t['reply']!r}, not a clear spoken failure")
        if t["again_s"] is None:
            f.lost += 1
            f.find(f"not working again 20 s after the kill: {t['answer']!r}")
        else:
            f.recovery_s.append(t["again_s"])
    if value["tracebacks"]:
        f.tracebacks += len(value["tracebacks"])
        f.find(f"logged with a traceback: {value['tracebacks'][:3]}")
    return f


# --- the LLM server -----------------------------------------------------------------------------------

SERVER = r"""
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
HANG = sys.argv[2]

class Chat(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if os.path.exists(HANG):
            open(HANG + ".busy", "w").close()
            time.sleep(3600)
        fmt = body.get("response_format")
        if fmt:
            schema = fmt.get("json_schema", {}).get("schema") or fmt.get("schema")
            content = '{"none": {}}'
            for branch in schema["oneOf"]:
                (name, args), = branch["properties"].items()
                if name != "none" and not args.get("required"):
                    content = json.dumps({name: {}})
                    break
        else:
            content = "All done."
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Chat).serve_forever()
"""
QUESTION = "could you kindly work out the hour for me"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llm(work: Path, trials: int) -> Figures:
    f = Figures("LLM server killed")
    (work / "server.py").write_text(SERVER)
    got = in_fork(_llm_trials, work, trials, timeout_s=60 + 40 * trials)
    return _fill(f, got)


def _llm_trials(work: Path, trials: int) -> dict[str, Any]:
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.config import load_config

    logged = Logged()
    logging.getLogger().addHandler(logged)
    port = _free_port()
    hang = work / "hang"
    env = {
        **ENV,
        "ASSISTANT__UNDERSTANDING__PLANNER": "true",
        "ASSISTANT__PLANNER__SERVER_URL": f"http://127.0.0.1:{port}",
        "ASSISTANT__PLANNER__FALLBACK": "false",
        "ASSISTANT__PLANNER__TIMEOUT_S": "30",
    }

    def serve() -> subprocess.Popen[bytes]:
        server = subprocess.Popen([sys.executable, str(work / "server.py"), str(port), str(hang)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        return server

    server = serve()
    core = build_core(load_config(environ=env), work / "data", Bus(), plays=False)
    results: list[dict[str, Any]] = []

    async def one() -> dict[str, Any]:
        nonlocal server
        hang.touch()
        busy = Path(f"{hang}.busy")
        busy.unlink(missing_ok=True)
        asked = asyncio.create_task(core.dialogue.handle(QUESTION))
        deadline = time.monotonic() + 20
        while not busy.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not busy.exists():
            asked.cancel()
            return {
                "error": f"the request never reached the LLM server: {await asyncio.gather(asked, return_exceptions=True)}"
            }
        server.send_signal(signal.SIGKILL)
        server.wait()
        killed = time.monotonic()
        reply = await asyncio.wait_for(asked, 40)
        said_s = time.monotonic() - killed
        hang.unlink()
        server = serve()
        back = time.monotonic()
        again, answer = None, ""
        while time.monotonic() - back < 30:
            answer = await core.dialogue.handle(QUESTION)
            if not answer.startswith("Sorry"):
                again = time.monotonic() - back
                break
            await asyncio.sleep(0.2)
        return {"reply": reply, "said_s": said_s, "again_s": again, "answer": answer}

    async def main() -> None:
        results.append({"warm": await core.dialogue.handle(QUESTION)})
        for _ in range(trials):
            results.append(await one())

    try:
        asyncio.run(main())
    finally:
        server.kill()
        server.wait()
    return {"trials": results, "tracebacks": logged.tracebacks}
