"""Attach event mentions to incidents: same type, near places, close dates, and
compatible actors; never a scan.

Candidates come from an index keyed by (type, grid cell, day): a mention reads
its places' 3x3 cell neighbourhoods over the days within the window, so the cost
per mention is a fixed number of key lookups however large the store is. A
``Loader`` fills that index from storage on first use of a key; without one the
linker works on what it has seen (the scorer, tests, the benchmark's pure run).

Ids are stable: an incident is named after the first mention that opened it
(``inc_`` + hash of ``article_id:type``) and keeps the name as reports join.
When one mention fits two incidents, they merge into the older one (earlier
first day, then smaller id); the merge is recorded. Linked mentions are skipped,
so re-running changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.incidents.geo import cell, km, neighbourhood
from pipeline.incidents.mentions import MentionIn, Place

MAX_KM = 60.0  # places further apart than this are different events
WINDOW_DAYS = 1  # a report's event date within a day of the incident's days


@dataclass(slots=True)
class IncidentState:
    """What linking needs to know of an incident (the store keeps the rest)."""

    id: str
    type: str
    first_day: int
    last_day: int
    days: set[int] = field(default_factory=set)
    places: dict[str, Place] = field(default_factory=dict)
    actors: set[str] = field(default_factory=set)  # every actor its reports name
    merged_into: str | None = None

    def lookup_keys(self) -> set[tuple[str, str, int]]:
        return {(self.type, cell(p.lat, p.lon), d) for p in self.places.values() for d in self.days}


@dataclass(frozen=True, slots=True)
class Change:
    """A merge (``other`` folded into ``incident``) or a split, with the mention that caused it."""

    kind: str
    incident: str
    other: str
    mention: str


Key = tuple[str, str, int]
Loader = Callable[[list[Key]], Iterable[IncidentState]]


def incident_id(mention_key: str) -> str:
    return "inc_" + hashlib.sha1(mention_key.encode("utf-8")).hexdigest()[:16]


class Linker:
    """Links mentions (given in ``mentions.order``) to incidents, remembering what changed."""

    def __init__(
        self, loader: Loader | None = None, max_km: float = MAX_KM, window_days: int = WINDOW_DAYS
    ) -> None:
        self.loader = loader
        self.max_km = max_km
        self.window = window_days
        self.incidents: dict[str, IncidentState] = {}
        self.index: dict[Key, set[str]] = {}
        self.loaded: set[Key] = set()
        self.links: dict[str, str] = {}  # mention key -> incident id (this run)
        self.members: dict[str, list[str]] = {}  # incident id -> its mention keys (this run)
        self.dirty: set[str] = set()
        self.changes: list[Change] = []
        self.new_keys: set[tuple[str, str, int, str]] = set()

    # ------------------------------------------------------------ lookup
    def _lookup_keys(self, m: MentionIn) -> list[Key]:
        cells = sorted({c for p in m.places for c in neighbourhood(p.lat, p.lon)})
        days = range(m.day - self.window, m.day + self.window + 1)
        return [(m.type, c, d) for c in cells for d in days]

    def _load(self, keys: list[Key]) -> None:
        missing = [k for k in keys if k not in self.loaded]
        if not missing:
            return
        self.loaded.update(missing)
        if self.loader is None:
            return
        for inc in self.loader(missing):
            if inc.id in self.incidents:
                continue
            self.incidents[inc.id] = inc
            for k in inc.lookup_keys():
                self.index.setdefault(k, set()).add(inc.id)

    def _resolve(self, inc_id: str) -> str:
        seen = 0
        while (nxt := self.incidents[inc_id].merged_into) is not None and seen < 100:
            if nxt not in self.incidents and self.loader is not None:
                break
            inc_id, seen = nxt, seen + 1
        return inc_id

    def prefetch(self, mentions: Iterable[MentionIn]) -> None:
        """Load the candidates of a whole batch in one pass (fewer round trips)."""
        keys: list[Key] = []
        for m in mentions:
            keys.extend(self._lookup_keys(m))
        self._load(sorted(set(keys)))

    def candidates(self, m: MentionIn) -> list[IncidentState]:
        keys = self._lookup_keys(m)
        self._load(keys)
        ids: set[str] = set()
        for k in keys:
            ids.update(self.index.get(k, ()))
        out = {self._resolve(i) for i in ids if i in self.incidents}
        return [self.incidents[i] for i in sorted(out) if self.fits(m, self.incidents[i])]

    # ------------------------------------------------------------ the rule
    def fits(self, m: MentionIn, inc: IncidentState) -> bool:
        """Same type, a place within ``max_km`` (or the same place id), an event date
        within the window of the incident's first day, and no clash of known actors."""
        if inc.type != m.type or inc.merged_into is not None:
            return False
        # Anchored on the incident's first day, so a chain of daily reports cannot
        # stretch one incident over a week.
        if abs(m.day - inc.first_day) > self.window:
            return False
        named = set(m.named or m.actors)
        if named and inc.actors and not (named & inc.actors):
            return False
        for p in m.places:
            if p.id in inc.places:
                return True
            for q in inc.places.values():
                if km(p.lat, p.lon, q.lat, q.lon) <= self.max_km:
                    return True
        return False

    # ------------------------------------------------------------ linking
    def link(self, m: MentionIn) -> str:
        """The incident id the mention now belongs to (opened, joined or merged)."""
        if m.key in self.links:
            return self.links[m.key]
        found = sorted(self.candidates(m), key=lambda i: (i.first_day, i.id))
        if not found:
            inc = IncidentState(incident_id(m.key), m.type, m.day, m.day)
            self.incidents[inc.id] = inc
        else:
            inc = found[0]
            for other in found[1:]:
                self._merge(inc, other, m.key)
        self._absorb(inc, m)
        self.links[m.key] = inc.id
        self.members.setdefault(inc.id, []).append(m.key)
        return inc.id

    def link_all(self, mentions: Iterable[MentionIn]) -> dict[str, str]:
        for m in mentions:
            self.link(m)
        return self.links

    def _absorb(self, inc: IncidentState, m: MentionIn) -> None:
        inc.first_day = min(inc.first_day, m.day)
        inc.last_day = max(inc.last_day, m.day)
        inc.days.add(m.day)
        for p in m.places:
            inc.places.setdefault(p.id, p)
        inc.actors.update(m.named or m.actors)
        self._index(inc)
        self.dirty.add(inc.id)

    def _index(self, inc: IncidentState) -> None:
        for k in inc.lookup_keys():
            ids = self.index.setdefault(k, set())
            if inc.id not in ids:
                ids.add(inc.id)
                self.new_keys.add((*k, inc.id))

    def _merge(self, into: IncidentState, other: IncidentState, mention: str) -> None:
        other.merged_into = into.id
        into.first_day = min(into.first_day, other.first_day)
        into.last_day = max(into.last_day, other.last_day)
        into.days |= other.days
        for pid, p in other.places.items():
            into.places.setdefault(pid, p)
        into.actors |= other.actors
        moved = self.members.pop(other.id, [])
        for key in moved:
            self.links[key] = into.id
        self.members.setdefault(into.id, []).extend(moved)
        self._index(into)
        self.dirty.update((into.id, other.id))
        self.changes.append(Change("merge", into.id, other.id, mention))
