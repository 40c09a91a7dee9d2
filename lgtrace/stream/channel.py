"""The run's event channel: a FIFO from producers (tasks, callbacks, writers) to
the one consumer that drives the run and yields to the user.

Producers may be worker threads or coroutines on the consumer's event loop.
Worker threads are back-pressured: when ``maxsize`` items wait, ``put`` blocks
until the consumer catches up. The consumer's own thread (and its event loop)
never blocks on ``put``: it is the one that would have to drain.
Closing the channel (the consumer went away) makes every later ``put`` raise
``RunCancelled`` so that work under the run stops at its next event.

The per-event path is a lock, an append and, only when the consumer sleeps, one
wake-up: a plain lock released for a sync consumer, an ``asyncio.Event`` set for
an async one. ``threading.Condition`` is kept for the rare producer that must
wait for space.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from lgtrace.errors import RunCancelled


class EventChannel:
    __slots__ = (
        "_async_ready",
        "_async_space",
        "_consumer",
        "_items",
        "_lock",
        "_loop",
        "_maxsize",
        "_not_full",
        "_sleeping",
        "_wakeup",
        "closed",
    )

    def __init__(self, maxsize: int = 0) -> None:
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._maxsize = maxsize
        self._wakeup = threading.Lock()  # held while nobody has to wake the sync consumer
        self._wakeup.acquire()
        self._sleeping = False
        self._consumer = threading.get_ident()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_ready: asyncio.Event | None = None
        self._async_space: asyncio.Event | None = None
        self.closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The consumer's event loop, when the consumer is ``astream``."""
        return self._loop

    def bind_async(self) -> None:
        """Make the running event loop the consumer (for ``astream``)."""
        self._loop = asyncio.get_running_loop()
        self._async_ready = asyncio.Event()
        self._async_space = asyncio.Event()
        self._consumer = threading.get_ident()

    # -- producers ---------------------------------------------------------------------

    def full(self) -> bool:
        return bool(self._maxsize) and len(self._items) >= self._maxsize

    def put(self, item: Any, *, block: bool = True) -> None:
        """Append an item; block a worker thread while the channel is full.

        ``block=False`` is for producers whose waiting could stall the consumer itself.
        """
        with self._lock:
            if self.closed:
                raise RunCancelled("the stream consumer has stopped")
            if (
                block
                and self._maxsize
                and len(self._items) >= self._maxsize
                and threading.get_ident() != self._consumer
            ):
                while len(self._items) >= self._maxsize and not self.closed:
                    self._not_full.wait()
                if self.closed:
                    raise RunCancelled("the stream consumer has stopped")
            self._items.append(item)
            self._wake_locked()

    def put_final(self, item: Any) -> None:
        """Append without blocking, even after close (task completion markers)."""
        with self._lock:
            self._items.append(item)
            self._wake_locked()

    def _wake_locked(self) -> None:
        if self._sleeping:
            self._sleeping = False
            self._wakeup.release()
        ready = self._async_ready
        if ready is not None and not ready.is_set():
            if threading.get_ident() == self._consumer:
                ready.set()
            else:
                with contextlib.suppress(RuntimeError):  # loop closed: nobody listens any more
                    self._loop.call_soon_threadsafe(ready.set)  # type: ignore[union-attr]

    # -- the consumer ------------------------------------------------------------------

    def drain(self) -> list[Any]:
        """Everything queued now, without waiting."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            if self._maxsize:
                self._not_full.notify_all()
        if items and self._async_space is not None:
            self._async_space.set()
        return items

    def get_all(self) -> list[Any]:
        """Wait until at least one item is queued, then take them all (sync consumer)."""
        while True:
            with self._lock:
                if self._items or self.closed:
                    items = list(self._items)
                    self._items.clear()
                    if self._maxsize:
                        self._not_full.notify_all()
                    return items
                self._sleeping = True
            self._wakeup.acquire()

    async def aget_all(self) -> list[Any]:
        """Wait until at least one item is queued, then take them all (async consumer)."""
        ready = self._async_ready
        assert ready is not None, "bind_async() first"
        while not self._items:
            ready.clear()
            if self._items:
                break
            await ready.wait()
        return self.drain()

    async def wait_for_space(self) -> None:
        """For coroutines on the consumer's loop: wait while the channel is full."""
        space = self._async_space
        if not self._maxsize or space is None or asyncio.get_running_loop() is not self._loop:
            return
        while len(self._items) >= self._maxsize and not self.closed:
            space.clear()
            await space.wait()

    def close(self) -> None:
        """The consumer is gone: wake blocked producers; later ``put`` raises."""
        with self._lock:
            self.closed = True
            self._not_full.notify_all()
            if self._sleeping:
                self._sleeping = False
                self._wakeup.release()
        if self._async_space is not None:
            self._async_space.set()
