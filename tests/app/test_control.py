"""`assistant ask`, `knowledge ask`, `routines run` and `timers cancel` talk to the assistant that
runs on the data folder, over its owner-only control socket, as `mpc` talks to `mpd` (issue 25); with
none running they work alone as before."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app.control import ControlError, ControlServer, ask_running, connect, socket_path
from assistant.app.runtime import Core, build_core
from assistant.app.shell_requests import ShellRequests
from assistant.cli import main as cli
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.store import DataDirLock
from testbed.harness import TEMPLATES_ONLY, Recorder


class Running:
    """What `assistant run` holds for the command line: the folder's lock, the live core, and the
    control socket, served on an event loop of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.bus = Bus()
        self.events = Recorder(self.bus)
        self.core: Core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, self.bus)
        self.said: list[str] = []
        self.lock = DataDirLock(data_dir)
        assert self.lock.try_acquire()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def announce(text: str) -> None:
            self.said.append(text)

        self.server = ControlServer(data_dir, ShellRequests(self.core, announce).handlers())
        self.call(self.core.registry.start_all())
        self.call(self.server.start())

    def call(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def close(self) -> None:
        self.call(self.server.stop())
        self.call(self.core.registry.stop_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.lock.release()


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setenv("ASSISTANT__UNDERSTANDING__PLANNER", "false")
    assistant = Running(tmp_path / "data")
    try:
        yield assistant
    finally:
        assistant.close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_is_done_by_the_running_assistant(
    running: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    code, out, err = run_cli(
        capsys,
        "ask",
        "set a pasta timer for 3 minutes",
        "--data-dir",
        str(running.core.data_dir),
        "--events",
        str(events),
    )
    assert (code, out.strip(), err) == (0, "Pasta timer set for 3 minutes.", "")
    assert [t.name for t in running.core.scheduler.timers()] == ["pasta"], (
        "the running assistant's own scheduler has it"
    )
    written = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["type"] for e in written] == ["transcript", "intent", "tool_result", "reply"]
    assert written[1]["tool"] == "timer.start" and written[1]["args"] == {"minutes": 3, "name": "pasta"}
    assert any(e.type == "intent" for e in running.events.events), "the assistant's own event stream has it too"


def test_a_question_asked_through_the_socket_is_answered_by_the_next_ask(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(running.core.data_dir)
    run_cli(capsys, "ask", "set a timer for 5 minutes", "--data-dir", data)
    run_cli(capsys, "ask", "set a timer for 10 minutes", "--data-dir", data)
    assert run_cli(capsys, "ask", "cancel all timers", "--data-dir", data)[1].strip() == "Cancel all your timers?"
    assert running.core.scheduler.timers(), "nothing is done before the yes"
    assert run_cli(capsys, "ask", "yes", "--data-dir", data)[1].strip() == "Cancelled 2 timers."
    assert not running.core.scheduler.timers()


def test_events_to_stdout_and_the_reply_to_stderr(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "ask", "what time is it", "--data-dir", str(running.core.data_dir), "--events", "-"
    )
    types = [json.loads(line)["type"] for line in out.splitlines()]
    assert code == 0 and types[0] == "transcript" and types[-1] == "reply" and err.startswith("It's")


def test_cancel_and_routines_run_go_to_the_running_assistant(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(running.core.data_dir)
    run_cli(capsys, "ask", "set an eggs timer for 6 minutes", "--data-dir", data)
    code, out, _ = run_cli(capsys, "timers", "cancel", "eggs", "--data-dir", data)
    assert code == 0 and out.startswith("cancelled: ") and not running.core.scheduler.timers()
    code, _, err = run_cli(capsys, "timers", "cancel", "eggs", "--data-dir", data)
    assert code == 1 and err.startswith("assistant: no timer 'eggs'")
    code, out, _ = run_cli(capsys, "routines", "run", "good morning", "--data-dir", data)
    assert (
        code == 0 and out.startswith("Good morning.") and running.said and running.said[0].startswith("Good morning.")
    )
    code, _, err = run_cli(capsys, "routines", "run", "no such", "--data-dir", data)
    assert code == 1 and "no routine 'no such'" in err


def test_knowledge_ask_goes_to_the_running_assistant(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "knowledge",
        "ask",
        "how do I descale the coffee machine",
        "--json",
        "--data-dir",
        str(running.core.data_dir),
    )
    answer = json.loads(out)
    assert (
        code == 0
        and answer["question"] == "how do I descale the coffee machine"
        and "speech" in answer
        or "answer" in answer
    )


def test_with_no_assistant_running_ask_works_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT__UNDERSTANDING__PLANNER", "false")
    data = tmp_path / "data"
    code, out, _ = run_cli(capsys, "ask", "set a timer for 4 minutes", "--data-dir", str(data))
    assert (code, out.strip()) == (0, "Timer set for 4 minutes.") and not socket_path(data).exists()


def test_music_is_not_started_by_a_command_that_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ask "play some jazz"` alone said "Playing some jazz." and exited; nothing played."""
    monkeypatch.setenv("ASSISTANT__UNDERSTANDING__PLANNER", "false")
    data = tmp_path / "data"
    core = build_core(load_config(environ=TEMPLATES_ONLY), data, Bus(), plays=False)
    assert core.media.player is None


def _as_nobody(data: Path) -> int:
    """What another user's process gets from the socket: 4 no connection, 0 refused, 5 served."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = connect(data)
            if sock is None:
                code = 4
            else:
                try:
                    ask_running(sock, {"op": "ask", "text": "cancel all timers"})
                    code = 5
                except ControlError:
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.WEXITSTATUS(status)


def test_the_socket_is_the_owners_alone() -> None:
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        top.chmod(0o755)  # a folder anyone may pass through, so only the socket's own checks stand
        assistant = Running(top / "data")
        try:
            (top / "data").chmod(0o755)
            path = socket_path(top / "data")
            assert stat.S_ISSOCK(path.lstat().st_mode) and stat.S_IMODE(path.lstat().st_mode) == 0o600
            assert _as_nobody(top / "data") == 4, "the socket's mode keeps another user out"
            os.chmod(path, 0o666)
            assert _as_nobody(top / "data") == 0, "where the mode lets them in, the peer check does not"
        finally:
            assistant.close()
    finally:
        shutil.rmtree(top)


def test_what_is_not_a_request_is_refused_and_the_server_goes_on(running: Running) -> None:
    data = running.core.data_dir
    for raw in (b"\n", b"[1, 2]\n", b'{"op": 7}\n', b"\xff\xfe\n", b'{"op": "format_disk"}\n'):
        sock = connect(data)
        assert sock is not None
        with sock, sock.makefile("rb") as lines:
            sock.sendall(raw)
            answer = json.loads(lines.readline())
        assert "error" in answer and answer["error"]["message"], raw
    sock = connect(data)
    assert sock is not None
    with contextlib.suppress(OSError):  # over a line's limit, with no end: it is cut off
        sock.sendall(b"x" * (1 << 21))
        sock.recv(4096)
    sock.close()
    assert ask_running(connect(data), {"op": "ask", "text": "what time is it"})["reply"].startswith("It's")  # type: ignore[arg-type]


def test_a_file_in_the_way_is_a_clear_error_and_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    socket_path(data).write_text("mine")
    server = ControlServer(data, {})
    with pytest.raises(ControlError, match="is in the way"):
        asyncio.run(server.start())
    assert socket_path(data).read_text() == "mine", "nothing of the person's is removed"
    socket_path(data).unlink()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_path(data)))
    stale.close()  # what an assistant killed with SIGKILL leaves

    async def serve() -> None:
        await server.start()
        await server.stop()

    asyncio.run(serve())
    assert not socket_path(data).exists()


def test_a_data_folder_too_long_for_a_socket_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assistant = Running(deep)
    try:
        assert len(os.fsencode(socket_path(deep))) > 107
        code, out, _ = run_cli(capsys, "ask", "set a timer for 2 minutes", "--data-dir", str(deep))
        assert (code, out.strip()) == (0, "Timer set for 2 minutes.") and assistant.core.scheduler.timers()
    finally:
        assistant.close()
