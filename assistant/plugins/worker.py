"""The process a third-party skill runs in, inside its sandbox.

    python -m assistant.plugins.worker SKILL_DIR DATA_DIR [NAME=FOLDER ...]

It loads the skill from SKILL_DIR/skill.py and answers the core's requests, one JSON object per line
each way on stdin and stdout: `{"id", "op", ...}` in, `{"id", "ok", "value" | "error"}` out, plus
`{"event": "refused", "permission"}` when the skill reaches for something it was not granted. The
skill's own prints go to stderr, so nothing it writes can be taken for an answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from typing import IO, Any

from assistant.core.errors import AssistantError, SkillError
from assistant.plugins.api import Skill, SkillContext, ToolResult
from assistant.plugins.packages import SITE_DIR
from assistant.plugins.remote import EXPOSED, Remote
from assistant.plugins.wire import tool_to_wire


def load_skill_class(skill_dir: Path) -> type[Skill]:
    source = skill_dir / "skill.py"
    if not source.is_file():
        raise SkillError(f"{skill_dir} has no skill.py")
    sys.path.insert(0, str(skill_dir))
    if (skill_dir / SITE_DIR).is_dir():  # a package's wheels: after the assistant's own packages
        sys.path.append(str(skill_dir / SITE_DIR))
    spec = importlib.util.spec_from_file_location("third_party_skill", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Skill) and obj is not Skill and obj.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise SkillError(f"{source} must define exactly one Skill class, not {len(found)}")
    return found[0]


class Worker:
    def __init__(
        self, skill_dir: Path, data_dir: Path, folders: dict[str, Path], out: IO[str], requests: IO[str]
    ) -> None:
        self.out = out
        self._requests = iter(requests)
        self._asks = 0
        cls = load_skill_class(skill_dir)
        remotes = {e.service: Remote(e, self.ask) for p, e in EXPOSED.items() if p in cls.permissions}
        context = SkillContext(skill=cls.name, data_dir=data_dir, folders=folders, refused=self._refused, **remotes)
        self.skill = cls(context)
        self.tools = {spec.name: spec for spec in self.skill.tools()}

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message, default=str) + "\n")
        self.out.flush()

    def ask(self, service: str, method: str, args: dict[str, Any]) -> Any:
        """Call into the core during a request: the core answers before it sends anything else."""
        self._asks += 1
        self.send({"ask": self._asks, "service": service, "method": method, "args": args})
        try:
            answer = json.loads(next(self._requests))
        except (StopIteration, json.JSONDecodeError):
            raise SkillError(f"the assistant did not answer {service}.{method}") from None
        if not isinstance(answer, dict) or answer.get("answer") != self._asks:
            raise SkillError(f"the assistant's answer to {service}.{method} was not one")
        if not answer.get("ok"):
            raise SkillError(str(answer.get("error", "refused")))
        return answer.get("value")

    def _refused(self, skill: str, permission: str) -> None:
        self.send({"event": "refused", "permission": permission})

    def handle(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        s = self.skill
        if op == "describe":
            return {
                "name": s.name,
                "description": s.description,
                "permissions": sorted(p.value for p in s.permissions),
                "tools": [tool_to_wire(t) for t in self.tools.values()],
            }
        if op == "call":
            spec = self.tools[str(request["tool"])]
            result = spec.func(**spec.validate(dict(request["args"])))
            if not isinstance(result, ToolResult):
                raise SkillError(f"{spec.qualified} returned {type(result).__name__}, not a ToolResult")
            return {"speech": result.speech, "data": json.loads(json.dumps(result.data, default=str)), "ok": result.ok}
        if op == "slots":
            return s.slot_values()
        if op == "vocabulary":
            return s.vocabulary()
        hooks = {"install": s.on_install, "start": s.on_start, "stop": s.on_stop, "uninstall": s.on_uninstall}
        if op in hooks:
            asyncio.run(hooks[op]())
            return None
        raise SkillError(f"unknown request {op!r}")

    def serve(self) -> None:
        for line in self._requests:
            try:
                request = json.loads(line)
                ident = request.get("id")
            except (json.JSONDecodeError, AttributeError):
                self.send({"id": None, "ok": False, "error": "a request that is not a JSON object"})
                continue
            try:
                self.send({"id": ident, "ok": True, "value": self.handle(request)})
            except AssistantError as e:
                self.send({"id": ident, "ok": False, "error": e.message, "code": e.code})
            except Exception as e:  # the skill's own bug: report it, keep serving
                traceback.print_exc()
                self.send({"id": ident, "ok": False, "error": f"{type(e).__name__}: {e}", "code": "skill"})


def main(argv: list[str]) -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    skill_dir, data_dir = Path(argv[0]), Path(argv[1])
    folders = dict((name, Path(path)) for name, _, path in (a.partition("=") for a in argv[2:]))
    try:
        worker = Worker(skill_dir, data_dir, folders, protocol, sys.stdin)
    except Exception as e:
        traceback.print_exc()
        protocol.write(json.dumps({"id": None, "ok": False, "error": f"the skill failed to load: {e}"}) + "\n")
        return 1
    protocol.write(json.dumps({"event": "ready"}) + "\n")
    protocol.flush()
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
