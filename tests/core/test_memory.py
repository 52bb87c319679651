"""Freed memory goes back to the system (glibc's malloc_trim), measured on a heap a small
allocation pins, as the models' temporary buffers leave it."""

from __future__ import annotations

import subprocess
import sys

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


def test_freed_heap_memory_is_given_back() -> None:
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True).stdout
    freed, trimmed = map(int, out.split())
    assert freed - trimmed > 120, f"{freed} MB resident after freeing, {trimmed} MB after giving it back"
