#!/usr/bin/env python
"""Media index: first index throughput, unchanged rescan, album query latency, at 10,000 and
100,000 generated small photos (real JPEGs with EXIF dates, cameras and GPS).

    .venv/bin/python scripts/bench/media.py [--sizes 10000 100000]

Baseline in the same run: the same rows in a TinyDB table (the store the rest of the assistant
uses), written in one go and queried for the same album: the figures that decided for SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.core.config import MediaConfig  # noqa: E402
from assistant.media.albums import Selection  # noqa: E402
from assistant.media.service import MediaLibrary  # noqa: E402
from testbed.fakes.media_library import make_small_photos  # noqa: E402


def median_ms(fn, rounds: int = 15) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def tinydb_baseline(media: MediaLibrary, tmp: Path) -> tuple[float, float]:
    """Write the rows to a TinyDB file in the scanner's batches of 2,000; query one month of photos
    with TinyDB's query cache off (every album look is a new query). (seconds, ms)"""
    from tinydb import Query, TinyDB

    rows = [{"path": r.path, "taken": r.taken, "camera": r.camera, "place": r.place} for r in media.catalogue.files()]
    start = time.perf_counter()
    tmp.mkdir(parents=True, exist_ok=True)
    db = TinyDB(tmp / "tiny.json")
    table = db.table("files", cache_size=0)
    for at in range(0, len(rows), 2000):
        table.insert_multiple(rows[at : at + 2000])
    write = time.perf_counter() - start
    q = Query()
    query = median_ms(lambda: table.search((q.taken >= "2021-03-01") & (q.taken < "2021-04-01")), rounds=3)
    db.close()
    return write, query


def bench(size: int, tmp: Path) -> None:
    root = tmp / f"lib{size}"
    start = time.perf_counter()
    make_small_photos(root, size)
    print(f"\n{size} photos generated in {time.perf_counter() - start:.1f} s")
    media = MediaLibrary(tmp / f"data{size}", MediaConfig(), [root])
    first = media.scan()
    print(
        f"  first index: {first.added} files in {first.seconds:.2f} s = {first.added / first.seconds:,.0f} files/s   target >= 1,000/s"
    )
    again = media.scan()
    print(f"  unchanged rescan: {again.unchanged} files in {again.seconds:.2f} s   target <= 5 s at 100,000")
    for label, selection in (
        ("march 2021", Selection(when="march 2021")),
        ("in Paris", Selection(place="paris")),
        ("canon in 2021", Selection(when="2021", camera="canon")),
    ):
        found = len(media.albums.select(selection))
        print(
            f"  album query '{label}': {found} photos, median {median_ms(lambda selection=selection: media.albums.select(selection)):.1f} ms   target <= 100 ms"
        )
    media.albums.create("march", Selection(when="march 2021"))
    print(f"  open a made album: median {median_ms(lambda: media.albums.files('march')):.1f} ms")
    write, query = tinydb_baseline(media, tmp / f"tiny{size}")
    print(f"  baseline TinyDB: writing the rows {write:.2f} s, the march query {query:.1f} ms")
    media.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            bench(size, Path(tmp))


if __name__ == "__main__":
    main()
