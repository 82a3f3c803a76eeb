"""How many of one endpoint's deliveries may wait in a worker's memory.

A delivery held in memory is leased in PostgreSQL; if it waits longer than the lease, another
worker's scheduler takes it too and the receiver gets it twice. A fixed queue size is wrong
both ways: for a fast receiver it is too small, so a burst (Fineract's close of business) is
written to PostgreSQL as pending rows and read back by the scheduler, which costs a fifth more
CPU per delivery; for a slow receiver it is too large, and leases run out while jobs wait.

So the limit follows what the endpoint actually completes: a quarter of the lease's worth at its
recent rate, between a floor (twice its concurrency, enough to keep it busy) and the configured
ceiling ``HUB_ENDPOINT_QUEUE_LIMIT``. An endpoint that stops answering sees its rate, and with it
the limit, fall as soon as a second passes without completions; whatever still waits then is
dropped unsent when its lease can no longer cover an attempt (``lease_allows``) and the
scheduler takes the row again.
"""

from __future__ import annotations

#: The rate is measured over windows of this length, and smoothed across them.
WINDOW_SECONDS = 1.0
#: The share of the lease a job may expect to wait in memory.
LEASE_SHARE = 0.25


class EndpointRate:
    """Completed attempts per second of one endpoint."""

    __slots__ = ("count", "per_second", "window_start")

    def __init__(self, now: float) -> None:
        self.window_start = now
        self.count = 0
        self.per_second: float | None = None

    def observe(self, now: float) -> None:
        self.count += 1
        elapsed = now - self.window_start
        if elapsed >= WINDOW_SECONDS:
            current = self.count / elapsed
            self.per_second = (
                current if self.per_second is None else (self.per_second + current) / 2
            )
            self.window_start, self.count = now, 0

    def current(self, now: float) -> float | None:
        """The smoothed rate, lowered at once if the open window is already slower."""
        elapsed = now - self.window_start
        if elapsed < WINDOW_SECONDS:
            return self.per_second
        running = self.count / elapsed
        return running if self.per_second is None else min(self.per_second, running)


def queue_limit(
    rate: float | None, *, lease_seconds: float, concurrency: int, ceiling: int
) -> int:
    floor = min(2 * concurrency, ceiling)
    if rate is None:
        return floor
    return max(floor, min(ceiling, int(rate * lease_seconds * LEASE_SHARE)))


def lease_allows(deadline: float, now: float, timeout: float) -> bool:
    """Whether an attempt started now ends before the job's lease does."""
    return now + timeout < deadline
