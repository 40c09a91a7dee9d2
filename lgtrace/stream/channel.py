"""The run's event channel: a FIFO from producers (tasks, callbacks, writers) to
the one consumer that drives the run and yields to the user.

Producers may be worker threads or coroutines on the consumer's event loop.
Worker threads are back-pressured: when ``maxsize`` items wait, ``put`` blocks
until the consumer catches up. The consumer's own thread (and its event loop)
never blocks on ``put``: it is the one that would have to drain.
Closing the channel (the consumer went away) makes every later ``put`` raise
``RunCancelled`` so that work under the run stops at its next event.

The per-event path is an append (no lock) and, only when the consumer sleeps,
one wake-up: a plain lock released for a sync consumer, the future an async
consumer awaits resolved. ``_lock`` guards only the sleep/wake hand-shake and
waiting for space; the consumer notifies space only when someone waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from typing import Any

from lgtrace.errors import RunCancelled

logger = logging.getLogger("lgtrace")


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Ready:
    """An awaitable that is already done (``await writer(x)`` when there is room)."""

    __slots__ = ()

    def __await__(self) -> Any:
        return iter(())


READY = _Ready()


class _Space:
    """An awaitable that waits until the channel has room (created only when it is full)."""

    __slots__ = ("_channel",)

    def __init__(self, channel: EventChannel) -> None:
        self._channel = channel

    def __await__(self) -> Any:
        return self._channel.wait_for_space().__await__()


class EventChannel:
    __slots__ = (
        "_async_space",
        "_consumer",
        "_items",
        "_lock",
        "_loop",
        "_maxsize",
        "_not_full",
        "_overflow_warned",
        "_sleeping",
        "_space_waiters",
        "_waiter",
        "_wakeup",
        "closed",
    )

    def __init__(self, maxsize: int = 0) -> None:
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._space_waiters = 0  # threads and coroutines waiting for space (changed under _lock)
        self._wakeup = threading.Lock()  # held while nobody has to wake the sync consumer
        self._wakeup.acquire()
        self._sleeping = False
        self._consumer = threading.get_ident()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None  # what the async consumer awaits
        self._async_space: asyncio.Event | None = None
        self._overflow_warned = False
        self.closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The consumer's event loop, when the consumer is ``astream``."""
        return self._loop

    def bind_async(self) -> None:
        """Make the running event loop the consumer (for ``astream``)."""
        self._loop = asyncio.get_running_loop()
        self._async_space = asyncio.Event()
        self._consumer = threading.get_ident()

    # -- producers ---------------------------------------------------------------------

    def full(self) -> bool:
        return bool(self._maxsize) and len(self._items) >= self._maxsize

    def put(self, item: Any, *, block: bool = True) -> None:
        """Append an item; block a worker thread while the channel is full.

        ``block=False`` is for producers whose waiting could stall the consumer itself.
        The fast path takes no lock: ``deque.append`` is atomic, and the consumer
        announces that it sleeps (``_sleeping`` or ``_waiter``, under ``_lock``) before
        re-checking the queue, so a producer that appends after that re-check wakes it.
        Without a lock around check and append, ``maxsize`` may be exceeded by one item
        per producer racing for the last slot, and a ``put`` racing ``close()`` may land
        (the next one raises).
        """
        if self.closed:
            raise RunCancelled("the stream consumer has stopped")
        if block and self._maxsize and len(self._items) >= self._maxsize:
            self._wait_for_space()
        self._items.append(item)
        if self._sleeping:
            self._wake_sync()
        if self._waiter is not None:
            self._wake_async()

    def put_final(self, item: Any) -> None:
        """Append without blocking, even after close (task completion markers)."""
        self._items.append(item)
        if self._sleeping:
            self._wake_sync()
        if self._waiter is not None:
            self._wake_async()

    def space(self) -> Any:
        """An awaitable: done at once unless the channel is full and the caller runs on the
        consumer's event loop, where it waits for the consumer to drain."""
        if self._maxsize and self._loop is not None and len(self._items) >= self._maxsize:
            return _Space(self)
        return READY

    def _wait_for_space(self) -> None:
        if threading.get_ident() == self._consumer:
            # the consumer's own thread is the one that would have to drain: never block it
            if not self._overflow_warned and len(self._items) >= 4 * self._maxsize:
                self._overflow_warned = True
                logger.warning(
                    "%d stream events are waiting for a slow consumer and more are produced on the "
                    "consumer's own event loop, where producers cannot be made to wait; "
                    "`await writer(...)` in async nodes to apply back-pressure",
                    len(self._items),
                )
            return
        with self._lock:
            # counted before the check: a consumer that drains after it sees the count
            self._space_waiters += 1
            try:
                while len(self._items) >= self._maxsize and not self.closed:
                    self._not_full.wait()
            finally:
                self._space_waiters -= 1
        if self.closed:
            raise RunCancelled("the stream consumer has stopped")

    def _wake_sync(self) -> None:
        with self._lock:
            if self._sleeping:
                self._sleeping = False
                self._wakeup.release()

    def _wake_async(self) -> None:
        if threading.get_ident() == self._consumer:
            # on the loop thread the consumer cannot arm a new waiter between these lines
            waiter = self._waiter
            self._waiter = None
            if waiter is not None:
                _resolve(waiter)
            return
        # another thread takes and clears under the lock the consumer arms its waiter under:
        # preempted between reading and clearing, it must not clear the consumer's next waiter
        with self._lock:
            waiter = self._waiter
            if waiter is None:
                return
            self._waiter = None
        with contextlib.suppress(RuntimeError):  # loop closed: nobody listens any more
            self._loop.call_soon_threadsafe(_resolve, waiter)  # type: ignore[union-attr]

    # -- the consumer ------------------------------------------------------------------

    def drain(self) -> list[Any]:
        """Everything queued now, without waiting (only the consumer pops, so ``n``
        pops never fail while producers append)."""
        items = self._items
        taken = [items.popleft() for _ in range(len(items))]
        if taken and self._space_waiters:
            with self._lock:
                self._not_full.notify_all()
            if self._async_space is not None:
                self._async_space.set()
        return taken

    def get_all(self) -> list[Any]:
        """Wait until at least one item is queued, then take them all (sync consumer)."""
        while True:
            if self._items or self.closed:
                return self.drain()
            with self._lock:
                self._sleeping = True
                if self._items or self.closed:  # appended before we announced the sleep
                    self._sleeping = False
                    continue
            self._wakeup.acquire()

    async def aget_all(self) -> list[Any]:
        """Wait until at least one item is queued, then take them all (async consumer)."""
        loop = self._loop
        assert loop is not None, "bind_async() first"
        while not self._items:
            waiter = loop.create_future()
            with self._lock:
                self._waiter = waiter
            try:
                if not self._items:  # else appended before we announced the wait
                    await waiter
            finally:
                self._waiter = None
        return self.drain()

    async def wait_for_space(self) -> None:
        """For coroutines on the consumer's loop: wait while the channel is full."""
        space = self._async_space
        if not self._maxsize or space is None or asyncio.get_running_loop() is not self._loop:
            return
        while len(self._items) >= self._maxsize and not self.closed:
            space.clear()
            with self._lock:
                self._space_waiters += 1
            try:
                await space.wait()
            finally:
                with self._lock:
                    self._space_waiters -= 1

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
