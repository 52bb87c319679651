"""`kill -USR1` shows where every thread of a running assistant is, and the process goes on."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import os, signal, threading, time
from assistant.cli.main import _stacks_on_request

_stacks_on_request()
threading.Thread(target=time.sleep, args=(5,), name="a stuck worker", daemon=True).start()
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.2)
print("still here")
"""


def test_sigusr1_writes_every_threads_stack_and_the_process_goes_on() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "still here", done
    assert "Current thread" in done.stderr and done.stderr.count("Thread 0x") >= 1, done.stderr
