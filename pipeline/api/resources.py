"""What the app keeps open between requests: the state store and search backends.

Opening a backend per request would re-run its set-up (SQLite: connect and
check tables) every time; one shared backend would serialise every search
behind its connection lock. A small pool of open backends sits between the
two. Requests run in FastAPI's thread pool, so the pool is a plain
thread-safe queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.search.base import SearchBackend, open_backend
from pipeline.store import Store, open_store


@dataclass
class BackendPool:
    settings: Settings
    size: int
    _free: queue.LifoQueue[SearchBackend] = field(default_factory=queue.LifoQueue)
    _opened: list[SearchBackend] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def backend(self) -> Iterator[SearchBackend]:
        """Borrow an open backend; opened lazily up to ``size``, then callers wait."""
        try:
            b = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = len(self._opened) < self.size
                if grow:
                    b = open_backend(self.settings)
                    self._opened.append(b)
            if not grow:
                b = self._free.get()
        try:
            yield b
        finally:
            self._free.put(b)

    def close(self) -> None:
        for b in self._opened:
            b.close()
        self._opened.clear()


@dataclass
class Resources:
    settings: Settings
    api: ApiSettings
    store: Store
    pool: BackendPool

    @classmethod
    def open(cls, settings: Settings, api: ApiSettings) -> Resources:
        store = open_store(settings)
        return cls(settings, api, store, BackendPool(settings, api.api_backend_pool))

    def close(self) -> None:
        self.pool.close()
        self.store.close()
