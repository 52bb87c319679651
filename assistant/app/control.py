"""The running assistant's local door for its own command line, as `mpc` talks to `mpd`.

`assistant run` listens on a Unix socket, `control.sock` in its data folder; `assistant ask`,
`knowledge ask`, `routines run` and `timers|alarms|reminders cancel` send their request there when an
assistant holds the folder, and print its answer, instead of loading every model again (or being
refused: the folder has one writer).

Who may connect: the socket is made owner-only (0600, in a folder the owner keeps), and each
connection's peer is checked again with SO_PEERCRED: only this user (or root). It is never an
abstract socket, which any process in the network namespace could reach, a sandboxed skill with
network access included.

The wire is JSON lines. The client sends one request, an object with "op"; the server answers with
any number of {"event": …} (the request's events, as `--events` writes them) and {"say": …} (what a
routine says) lines, then one {"done": …} or {"error": {"message", "code", "exit_code"}} line, and
closes. A line is at most `MAX_LINE` bytes; a client has `REQUEST_S` seconds to send its request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_LINE = 1 << 20
"""Bytes in one line, either way: a request or one event."""
REQUEST_S = 10.0
"""Seconds a client has to send its whole request after connecting."""
MAX_CLIENTS = 16
"""Requests served at once; one more is told to wait for the others."""
_UNIX_PATH_MAX = 107

Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[dict[str, Any], Send], Awaitable[dict[str, Any]]]
"""One op: (the request, a way to send lines before the answer) → the answer ("done")."""


class ControlError(AssistantError):
    code = "control"


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


@contextlib.contextmanager
def _reachable(path: Path) -> Iterator[str]:
    """A name for `path` short enough for a Unix socket address (107 bytes): the path itself, or the
    same file reached through a descriptor of its folder (/proc/self/fd/N/control.sock)."""
    name = os.fsencode(path)
    if len(name) <= _UNIX_PATH_MAX:
        yield os.fsdecode(name)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def _peer_allowed(sock: socket.socket) -> bool:
    """Only this user, or root, may ask: the socket's mode says so, and the kernel's word on the
    connecting process says so again."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (os.geteuid(), 0)


class ControlServer:
    """Serves the command line's requests with `handlers` (op → handler) while the assistant runs."""

    def __init__(self, data_dir: Path, handlers: dict[str, Handler]) -> None:
        self.path = socket_path(data_dir)
        self.handlers = handlers
        self._server: asyncio.AbstractServer | None = None
        self._serving = 0

    async def start(self) -> None:
        """Listen. A socket file left by an assistant that was killed is replaced: whoever calls this
        holds the data folder's lock, so no other assistant can be listening on it."""
        if self.path.is_symlink() or self.path.exists():
            if self.path.is_symlink() or not self.path.is_socket():
                raise ControlError(f"{self.path} is in the way of the assistant's control socket: move it away")
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Made with no permission for anyone but the owner from the start, not chmod-ed after.
            old_umask = os.umask(0o177)
            try:
                with _reachable(self.path) as name:
                    sock.bind(name)
            finally:
                os.umask(old_umask)
            sock.listen(MAX_CLIENTS)
            sock.setblocking(False)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE)
        except BaseException:
            sock.close()
            raise

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def wait(self) -> None:
        """Until the socket is taken away (a watch for the supervisor): serving ends only by stop()."""
        while self._server is not None:
            if not self.path.is_socket():
                raise ControlError(f"the control socket {self.path} was removed")
            await asyncio.sleep(5.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        try:
            if sock is None or not _peer_allowed(sock):
                log.warning("a process of another user knocked on the control socket; refused")
                return
            if self._serving >= MAX_CLIENTS:
                await _send(writer, _error(ControlError("the assistant is busy with other commands: try again")))
                return
            self._serving += 1
            try:
                await self._answer(reader, writer)
            finally:
                self._serving -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the command was interrupted (Ctrl+C): what it asked for goes on
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_S)
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ValueError("not a request")
        except (TimeoutError, ValueError, asyncio.LimitOverrunError):
            await _send(writer, _error(ControlError("that is not a request this assistant understands")))
            return
        handler = self.handlers.get(request["op"])
        if handler is None:
            await _send(
                writer,
                _error(
                    ControlError(
                        f"this assistant does not take {request['op']!r} from the shell; "
                        "update it, or stop it and run the command alone"
                    )
                ),
            )
            return

        async def send(message: dict[str, Any]) -> None:
            with contextlib.suppress(ConnectionError):  # the client left: the request still finishes
                await _send(writer, message)

        try:
            answer = await handler(request, send)
        except AssistantError as e:
            await send(_error(e))
            return
        except Exception as e:  # a fault here must not take the assistant down, nor leave the client waiting
            log.exception("control request %s failed", request["op"])
            await send(
                _error(
                    ControlError(f"the assistant failed on that request ({type(e).__name__}); its log has the details")
                )
            )
            return
        await send({"done": answer})


def _error(e: AssistantError) -> dict[str, Any]:
    return {"error": {"message": e.message, "code": e.code, "exit_code": e.exit_code}}


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message, default=str, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


class RemoteError(AssistantError):
    """The running assistant's own error for a forwarded request, with its code and exit status."""

    def __init__(self, message: str, code: str, exit_code: int) -> None:
        super().__init__(message, code=code)
        self.exit_code = exit_code


def connect(data_dir: Path) -> socket.socket | None:
    """A connection to the assistant running on `data_dir`, or None when none listens there."""
    path = socket_path(data_dir)
    try:
        if not path.is_socket():
            return None
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _reachable(path) as name:
            sock.connect(name)
    except OSError:
        sock.close()
        return None
    return sock


def ask_running(
    sock: socket.socket, request: dict[str, Any], on_line: Callable[[dict[str, Any]], None] = lambda line: None
) -> dict[str, Any]:
    """Send one request on `sock` and wait for its answer; each {"event"} or {"say"} line on the way
    goes to `on_line`. RemoteError with the assistant's message when it refused; ControlError when it
    went away before answering."""
    try:
        return _exchange(sock, request, on_line)
    except OSError as e:
        raise ControlError(
            f"the running assistant closed the connection ({e.strerror or e}); see its log or `assistant status`"
        ) from None


def _exchange(
    sock: socket.socket, request: dict[str, Any], on_line: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    with sock, sock.makefile("rb") as lines:
        sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        for raw in lines:
            try:
                message = json.loads(raw)
            except ValueError:
                raise ControlError("the running assistant answered something that is not its protocol") from None
            if not isinstance(message, dict):
                continue
            if "done" in message:
                done = message["done"]
                return done if isinstance(done, dict) else {}
            if "error" in message and isinstance(message["error"], dict):
                e = message["error"]
                raise RemoteError(
                    str(e.get("message", "the assistant refused")),
                    str(e.get("code", "control")),
                    int(e.get("exit_code", 1)),
                )
            on_line(message)
    raise ControlError("the running assistant stopped before it answered; see its log or `assistant status`")


BUSY_S = 60.0
"""How long a one-shot command waits for another that holds the data folder (`ask` and `ask` at
once): a cold `ask` that needs the LLM takes 4-7 s (docs/benchmarks/startup.md; more on a slower
machine), and about a minute after a prompt change, which evaluates the system prompt once."""


def running_or_alone(
    data_dir: Path,
    try_lock: Callable[[], bool],
    starting: Callable[[], bool],
    wait_s: float = 60.0,
    busy_s: float = BUSY_S,
    poll_s: float = 0.2,
) -> socket.socket | None:
    """A connection to the assistant that holds `data_dir`, or None once `try_lock()` got the folder
    for this process alone. An assistant still loading its models (`starting()`) holds the folder
    with no socket yet: waited for up to `wait_s`. Another one-shot command holding it is waited for
    up to `busy_s`."""
    begun = time.monotonic()
    while True:
        if try_lock():
            return None
        sock = connect(data_dir)
        if sock is not None:
            return sock
        waited = time.monotonic() - begun
        if starting() and waited >= wait_s:
            raise ControlError(
                f"the assistant running on {data_dir} does not answer on {socket_path(data_dir)}: "
                "it may still be starting (see `assistant status`); try again, or stop it"
            )
        if not starting() and waited >= busy_s:
            raise ControlError(
                f"another command is running on {data_dir} and would race this one (waited {busy_s:g} s): "
                "try again when it has finished"
            )
        time.sleep(poll_s)
