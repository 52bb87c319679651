"""Photos and music by voice: albums by time, place, camera or folder; duplicates to a review folder;
photos into folders by year and month, with undo; music from the library by genre, artist, album or
title, with pause, resume, next and "what's playing". Album, artist and genre names are live lists.

Music that was asked for by a name the library does not have is not found, never replaced by other
music: "play some jars" is "I don't have any music called jars.", whether the planner dropped the
name (which would play everything) or put a close one in its place (jazz)."""

from __future__ import annotations

import random
import re
from typing import Annotated, Any

from assistant.core.errors import MediaError
from assistant.media import spoken
from assistant.media.albums import Selection
from assistant.media.player import MusicPlayer, Track
from assistant.media.service import MediaLibrary
from assistant.media.when import date_range
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, said, tool

When = Annotated[str | None, "when the photos were taken, as said: 'last summer', 'in 2023', 'march 2024'"]
Place = Annotated[str | None, "a city or country: 'paris', 'japan'"]
Camera = Annotated[str | None, "the camera's name or make: 'canon', 'pixel 7'"]
Folder = Annotated[str | None, "part of a folder's name: 'holidays'"]


class MediaSkill(Skill):
    name = "media"
    description = "Photo albums, duplicates, organizing photos into folders with undo, and playing music."
    permissions = frozenset({Permission.MEDIA})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.media: MediaLibrary = context.needs(Permission.MEDIA, MediaLibrary)

    @property
    def player(self) -> MusicPlayer:
        if self.media.player is None:
            # A one-shot `assistant ask` with no assistant running: it would exit under the song.
            raise MediaError(
                "music plays only while the assistant is running: start it with assistant run, then ask again"
            )
        return self.media.player

    def slot_values(self) -> dict[str, list[str]]:
        names = self.media.music_names()
        return {
            "album_name": self.media.albums.names(),
            "music_album": names["album"],
            "artist_name": names["artist"],
            "genre_name": [g.lower() for g in names["genre"]],
        }

    def vocabulary(self) -> list[str]:
        names = self.media.music_names()
        return [*self.media.albums.names(), *names["album"], *names["artist"]]

    def _settle_selection(self, args: dict[str, Any]) -> dict[str, Any]:
        """Put each part of a selection where it belongs (assistant/media/spoken.py): "photos from
        Paris" and "photos from last summer" are said the same way, "in Paris in 2023" fills one slot
        with both, and the planner may file a time as a folder or leave it out. A time that was said
        is never dropped: one found in the request and in no argument is used. Never raises: what
        cannot be understood is left for the selection to report in words."""
        today = self.media.albums.today()
        places = self.media.places
        out = dict(args)
        folder = out.get("folder")
        if folder and not out.get("when") and date_range(folder, today) is not None and not self._is_folder(folder):
            out["when"] = out.pop("folder")
        when, place = spoken.settle(out.get("when"), out.get("place"), today, places)
        if not when:
            given = [v for v in out.values() if isinstance(v, str)]
            when = spoken.dropped_time(said(), given, today) if said() else None
        for key, value in (("when", when), ("place", place)):
            if value:
                out[key] = value
            else:
                out.pop(key, None)
        return out

    def _is_folder(self, name: str) -> bool:
        return bool(
            self.media.catalogue.query(
                "SELECT 1 FROM files WHERE folder LIKE ? COLLATE NOCASE LIMIT 1", (f"%{name.strip()}%",)
            )
        )

    # --- photos ------------------------------------------------------------------------------------

    @tool(
        require_any=("when", "place", "camera", "folder"),
        ask="Which photos: from when, or where?",
        settle="_settle_selection",
    )
    def make_album(
        self,
        name: Annotated[str, Ask("What should the album be called?")],
        when: When = None,
        place: Place = None,
        camera: Camera = None,
        folder: Folder = None,
        smart: bool = False,
    ) -> ToolResult:
        """Make a photo album from photos chosen by time, place, camera or folder."""
        album, count = self.media.albums.create(name, Selection(when, place, camera, folder), smart=smart)
        kind = "smart album" if smart else "album"
        return ToolResult(
            f"I made the {kind} {album.name} with {_photos(count)} {album.described}.",
            {"album": album.name, "smart": smart, "count": count, "selection": album.described},
        )

    @tool(
        require_any=("when", "place", "camera", "folder"),
        ask="Which photos: from when, or where?",
        settle="_settle_selection",
        reads=True,
    )
    def count_photos(
        self, when: When = None, place: Place = None, camera: Camera = None, folder: Folder = None
    ) -> ToolResult:
        """How many photos there are from a time, place, camera or folder."""
        selection = Selection(when, place, camera, folder)
        rows = self.media.albums.select(selection)
        described = selection.describe(self.media.albums.today(), self.media.places)
        return ToolResult(f"You have {_photos(len(rows))} {described}.", {"count": len(rows), "selection": described})

    @tool(reads=True)
    def album_info(self, album: Annotated[str, Ask("Which album?")]) -> ToolResult:
        """How many photos an album holds."""
        found = self.media.albums.get(album)
        if found is None:
            return ToolResult(f"There's no album called {album}.", {"error": "no_album"}, ok=False)
        count = self.media.albums.size(found.name)
        return ToolResult(f"The album {found.name} has {_photos(count)}.", {"album": found.name, "count": count})

    @tool(reads=True)
    def find_duplicates(self) -> ToolResult:
        """Find photos and files that are exact or near copies of each other."""
        groups = self.media.duplicates(near=True)
        exact = sum(len(g.others) for g in groups if g.exact)
        near = sum(len(g.others) for g in groups if not g.exact)
        if not exact and not near:
            return ToolResult("I found no duplicates.", {"exact": 0, "near": 0})
        return ToolResult(
            f"I found {_count(exact, 'exact copy', 'exact copies')} and {_count(near, 'near duplicate', 'near duplicates')}. "
            "Say 'move the duplicates to review' to set them aside; nothing is deleted.",
            {"exact": exact, "near": near},
        )

    @tool(risky=True, confirm="Move the duplicate copies into the review folder?")
    def review_duplicates(self) -> ToolResult:
        """Move duplicate copies into the review folder (nothing is deleted; undo puts them back)."""
        report = self.media.review_duplicates(near=True)
        if not report.moved:
            return ToolResult("There were no duplicates to move.", report.as_dict())
        return ToolResult(
            f"I moved {_count(report.moved, 'duplicate', 'duplicates')} into the review folder. Say undo to put them back.",
            {"moved": report.moved, "batch": report.batch, "failed": report.failed},
            ok=not report.failed,
        )

    @tool(risky=True, confirm="Move your photos into folders by year and month?")
    def organize_by_date(self) -> ToolResult:
        """Move photos and videos into folders by year and month (undo puts them back)."""
        report, undated = self.media.organize()
        if not report.moved:
            return ToolResult("Your photos are already in folders by year and month.", {"moved": 0, "undated": undated})
        tail = f" {_photos(undated)} have no date and stayed where they were." if undated else ""
        return ToolResult(
            f"I moved {_photos(report.moved)} into folders by year and month. Say undo to put them back.{tail}",
            {"moved": report.moved, "batch": report.batch, "undated": undated, "failed": report.failed},
            ok=not report.failed,
        )

    @tool
    def undo(self) -> ToolResult:
        """Put back the files of the last organize or duplicates move."""
        report = self.media.mover.undo()
        data = report.as_dict()
        if report.conflicts:
            return ToolResult(
                f"I put back {_files(report.restored)}; {len(report.conflicts)} could not go back, "
                "see assistant media undo --list.",
                data,
                ok=False,
            )
        return ToolResult(f"I put back {_files(report.restored + report.already_back)}.", data)

    # --- music -------------------------------------------------------------------------------------

    @tool
    def play(
        self,
        genre: Annotated[str | None, "a genre: jazz, rock"] = None,
        artist: Annotated[str | None, "an artist's name"] = None,
        album: Annotated[str | None, "a music album's title"] = None,
        title: Annotated[str | None, "a song's title"] = None,
        shuffle: bool = False,
    ) -> ToolResult:
        """Play music from the library by genre, artist, album or song; nothing given: everything, shuffled."""
        asked = asked_for_music(said())
        given = [v for v in (genre, artist, album, title) if v]
        if asked and not any(_words(v) & _words(asked) for v in given):
            return ToolResult(
                f"I don't have any music called {asked}.", {"error": "not_found", "asked": asked}, ok=False
            )
        rows = self.media.music(genre, artist, album, title)
        if not rows:
            what = album or title or artist or genre
            return ToolResult(
                f"I don't have any music called {what}." if what else "I don't have any music yet.",
                {"error": "not_found"},
                ok=False,
            )
        if shuffle or genre or not (artist or album or title):
            rows = random.sample(rows, len(rows))
        tracks = [self.media.track_of(r) for r in rows]
        self.player.play(tracks)
        first = tracks[0]
        what = (
            f"the album {rows[0].album}"
            if album and rows[0].album
            else (f"some {genre}" if genre else _track_words(first))
        )
        return ToolResult(f"Playing {what}.", {"tracks": len(tracks), "first": str(first.path)})

    @tool
    def pause(self) -> ToolResult:
        """Pause the music."""
        if self.player.now_playing().track is None:
            return ToolResult("Nothing is playing.", {"playing": False})
        self.player.pause()
        return ToolResult("Paused.", {"paused": True})

    @tool
    def resume(self) -> ToolResult:
        """Carry on playing paused music."""
        if self.player.now_playing().track is None:
            return ToolResult("Nothing is paused.", {"playing": False})
        self.player.resume()
        return ToolResult("Playing.", {"paused": False})

    @tool
    def next_track(self) -> ToolResult:
        """Skip to the next song."""
        track = self.player.next()
        if track is None:
            return ToolResult("That was the last song.", {"track": None})
        return ToolResult(f"Next: {_track_words(track)}.", {"track": str(track.path)})

    @tool
    def stop(self) -> ToolResult:
        """Stop the music."""
        self.player.stop()
        return ToolResult("Stopped.", {"stopped": True})

    @tool(reads=True)
    def now_playing(self) -> ToolResult:
        """Which song is playing."""
        now = self.player.now_playing()
        if now.track is None:
            return ToolResult("Nothing is playing.", {"track": None})
        verb = "paused on" if now.paused else "listening to"
        return ToolResult(f"You're {verb} {_track_words(now.track)}.", now.record() or {})


_PLAY = re.compile(r"\bplay(?P<rest>( [a-z0-9' ]*)?)$")
_LEADING = (
    "me",
    "us",
    "some",
    "a bit of",
    "a little",
    "a few",
    "a",
    "an",
    "the",
    "my",
    "album",
    "albums",
    "song",
    "songs",
    "track",
    "tracks",
    "music",
    "by",
    "something",
    "anything",
    "from",
    "of",
)
_TRAILING = (
    "music",
    "songs",
    "song",
    "tracks",
    "album",
    "please",
    "for me",
    "for us",
    "now",
    "again",
    "on shuffle",
    "shuffled",
    "at random",
)
_ANYTHING = {"", "something", "anything", "everything", "all", "all of it", "random", "whatever"}


def asked_for_music(request: str) -> str:
    """The name a request asks to play, as said: "play me some jars music" → "jars"; "" when it names
    none ("play some music") or is no play request."""
    found = _PLAY.search(re.sub(r"[^a-z0-9' ]+", " ", request.lower()).strip())
    if found is None:
        return ""
    rest = found.group("rest").strip()
    changed = True
    while changed:
        changed = False
        for word in _LEADING:
            if rest == word or rest.startswith(f"{word} "):
                rest, changed = rest[len(word) :].strip(), True
        for word in _TRAILING:
            if rest == word or rest.endswith(f" {word}"):
                rest, changed = rest[: len(rest) - len(word)].strip(), True
    return "" if rest in _ANYTHING else rest


def _words(text: str) -> set[str]:
    return set(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()) - {"the", "a", "an", "of", "and", "by"}


def _track_words(track: Track) -> str:
    return f"{track.title} by {track.artist}" if track.artist else track.title


def _count(n: int, one: str, many: str) -> str:
    return f"{'one' if n == 1 else n} {one if n == 1 else many}"


def _photos(n: int) -> str:
    return _count(n, "photo", "photos")


def _files(n: int) -> str:
    return _count(n, "file", "files")
