"""Giving freed memory back to the system: freed heap memory, and the pages of a mapped file.

glibc keeps what Python, CTranslate2 and onnxruntime free in its heaps for reuse; after the models
load (their files read, their temporary buffers freed) and after each answer, tens of MB of it sit
unused but resident. `malloc_trim` returns it: 67 MB less at `ready` and 74 MB less after three
requests, measured, for 3-7 ms of a worker thread each time.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import os

log = logging.getLogger(__name__)


@functools.cache
def _c_library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _libc() -> ctypes.CDLL | None:
    """The C library where it has malloc_trim (glibc; not musl)."""
    libc = _c_library()
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def give_back_freed_memory() -> None:
    """Return the C heaps' free memory to the system (nothing where the C library cannot)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def give_back_freed_memory_soon() -> None:
    """The same in a worker thread, from the event loop's thread, without waiting for it."""
    try:
        asyncio.get_running_loop().run_in_executor(None, give_back_freed_memory)
    except RuntimeError:  # no event loop here: nothing waits on this thread, so do it now
        give_back_freed_memory()


M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> None:
    """Let at most `count` malloc heaps serve all the threads (glibc makes up to 8 per core).

    Each worker thread that loads a model or runs one (Whisper, Piper, the embedder, the LLM's
    planning) otherwise gets a heap of its own, and what one frees is kept for that heap alone:
    `assistant run` with a documents folder peaked 22-43 MB higher with glibc's default. Speech-to-
    text, synthesis and embedding took the same time either way (measured, stop 41). Call before
    threads start; MALLOC_ARENA_MAX or glibc.malloc.arena_max in GLIBC_TUNABLES wins."""
    libc = _libc()
    chosen = "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if libc is not None and not chosen and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, count)


MADV_DONTNEED = 4  # Linux


def drop_mapped_pages(path: str) -> int:
    """Let go of this process's resident pages of the file at `path` where it is mapped shared and
    read-only; the bytes let go of.

    Such a page holds the file's own bytes and nothing written since, so nothing is lost: one read
    again is faulted back in from the page cache (or the disk). The mappings are found in
    /proc/self/maps, read at each call, by the file's inode and device or by its path (btrfs and
    older overlayfs show another device or inode there than stat does). The caller makes sure no
    other thread unmaps a mapping of this file meanwhile: another mapping could take its place.
    Nowhere but Linux (no /proc/self/maps), nothing is done."""
    libc = _c_library()
    try:
        stat = os.stat(path)
        real = os.fsencode(os.path.realpath(path))
        with open("/proc/self/maps", "rb") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return 0
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}".encode()
    inode = str(stat.st_ino).encode()
    dropped = 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[4] == b"0":  # anonymous memory
            continue
        if not ((fields[3] == device and fields[4] == inode) or fields[5] == real):
            continue
        perms = fields[1]
        if perms[1:2] != b"-" or perms[3:4] != b"s":  # writable, or private: not only the file's bytes
            continue
        low, high = (int(end, 16) for end in fields[0].split(b"-"))
        if libc.madvise(ctypes.c_void_p(low), ctypes.c_size_t(high - low), MADV_DONTNEED) == 0:
            dropped += high - low
    return dropped
