"""Freed memory goes back to the system (glibc's malloc_trim), measured on a heap a small
allocation pins, as the models' temporary buffers leave it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core.memory import drop_mapped_pages

PROGRAM = """
import gc
from assistant.core.memory import give_back_freed_memory

def resident_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

blocks = [bytearray(64 * 1024) for _ in range(3000)]  # 190 MB in the heap, not mapped one by one
for block in blocks:
    block[::4096] = b"x" * len(block[::4096])
pin = bytearray(64 * 1024)  # above them: free() alone cannot shrink the heap past it
del blocks
gc.collect()
freed = resident_mb()
give_back_freed_memory()
print(freed, resident_mb())
"""


HEAPS = """
import ctypes, os, sys, tempfile, threading
from assistant.cli.main import main

if sys.argv[1] == "limited":
    try:
        main(["--help"])  # the command line sets the limit first, whatever the command
    except SystemExit:
        pass
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
started, hold = threading.Barrier(7), threading.Event()

def work():
    block = libc.malloc(100_000)  # under the mmap threshold: from this thread's heap
    started.wait()
    hold.wait()
    libc.free(ctypes.c_void_p(block))

libc.malloc.restype = ctypes.c_void_p
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
started.wait()  # all six hold a block at once, so none could share a heap freed by another
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
hold.set()
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


def test_the_command_line_keeps_threads_to_two_malloc_heaps() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def heaps(how: str) -> int:
        run = subprocess.run([sys.executable, "-c", HEAPS, how], capture_output=True, text=True, env=env, check=True)
        return int(run.stdout.split()[-1])

    assert heaps("default") > 2, "glibc's default gave these six threads no heaps of their own: nothing to measure"
    assert heaps("limited") <= 2


def test_freed_heap_memory_is_given_back() -> None:
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True).stdout
    freed, trimmed = map(int, out.split())
    assert freed - trimmed > 120, f"{freed} MB resident after freeing, {trimmed} MB after giving it back"


MAPPED = """
import mmap, os, sys
from assistant.core.memory import drop_mapped_pages

path = sys.argv[1]
inode = str(os.stat(path).st_ino)
if sys.argv[2] == "another device":  # as btrfs shows it: stat gives the subvolume's, maps the filesystem's
    real_stat = os.stat
    def stat(p, *a, **k):
        got = real_stat(p, *a, **k)
        return os.stat_result((got.st_mode, got.st_ino, got.st_dev + 1, *tuple(got)[3:]))
    os.stat = stat

def resident_mb():
    \"\"\"The file's mappings here, by their permissions: MB resident.\"\"\"
    found, perms = {}, None
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if not fields[0].endswith(":"):
            perms = fields[1] if len(fields) > 4 and fields[4] == inode else None
        elif perms and fields[0] == "Rss:":
            found[perms] = int(fields[1]) // 1024
    return found

with open(path, "rb") as f:
    shared = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
with open(path, "r+b") as f:
    private = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
private[0:5] = b"mine!"  # written only here: letting go of it would lose it
total = sum(shared[i] + private[i] for i in range(0, len(shared), 4096))  # every page read
before = resident_mb()
dropped = drop_mapped_pages(path)
after = resident_mb()
print(before["r--s"], before["rw-p"], after["r--s"], after["rw-p"], dropped // 2**20)
print(shared[0:5].decode(), private[0:5].decode(), sum(shared[i] + private[i] for i in range(0, len(shared), 4096)) == total)
"""


@pytest.mark.parametrize("device", ["its device", "another device"])
def test_a_mapped_files_pages_are_let_go_of_and_read_back_unchanged(tmp_path: Path, device: str) -> None:
    """The LLM's file is mapped shared and read-only (llama.cpp): its pages can go and come back from the
    page cache. A private mapping that was written to is left alone. A mapping is found by its path
    where the maps show another device than stat does."""
    model = tmp_path / "weights.bin"
    model.write_bytes(b"model" + os.urandom(64 * 2**20))
    out = subprocess.run(
        [sys.executable, "-c", MAPPED, str(model), device], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    shared_before, private_before, shared_after, private_after, dropped = map(int, out[0].split())
    assert shared_before >= 60 and private_before >= 60, out
    assert shared_after <= 1, f"{shared_after} MB of the shared mapping still resident"
    assert private_after >= 60, "the written private mapping was let go of"
    assert dropped >= 64
    assert out[1] == "model mine! True", "the bytes read back are not the file's"


def test_nothing_is_done_for_a_file_that_is_not_there_or_not_mapped(tmp_path: Path) -> None:
    assert drop_mapped_pages(str(tmp_path / "missing.gguf")) == 0
    (tmp_path / "unmapped").write_bytes(b"x" * 8192)
    assert drop_mapped_pages(str(tmp_path / "unmapped")) == 0
