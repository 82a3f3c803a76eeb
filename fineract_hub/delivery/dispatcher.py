"""Runs delivery attempts concurrently with per-endpoint isolation and records their outcomes.

Isolation: each webhook has its own concurrency limit and a bounded queue; when an endpoint is
slow its excess deliveries stay in PostgreSQL (``pending``) for the scheduler instead of
occupying memory or the shared concurrency budget, so one slow or dead endpoint never delays
the others. Every job the dispatcher holds is already durable under a lease (``due_at``), so a
crash at any point means a retry after the lease, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from fineract_hub.config import Settings
from fineract_hub.delivery.attempt import AttemptResult, send_attempt
from fineract_hub.delivery.capacity import EndpointRate, lease_allows, queue_limit
from fineract_hub.delivery.http_client import HTTPClient
from fineract_hub.delivery.ids import new_attempt_id
from fineract_hub.delivery.lifecycle import Decision, decide
from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.policy import policy_for
from fineract_hub.delivery.secrets import SecretBox
from fineract_hub.delivery.signing import decode_secret
from fineract_hub.metrics import Metrics
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook
from fineract_hub.storage.deliveries import AttemptRecord, DeliveryStore, DeliveryUpdate

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05
FLUSH_MAX = 2000
BODY_HISTORY_BYTES = 16384


def storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a receiver (or a payload) that sends one must not stop
    the history from being written, so it is shown as U+FFFD instead."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")


@dataclass(slots=True)
class DeliveryJob:
    delivery_id: str
    message_id: str
    webhook: Webhook
    event: CanonicalEvent
    attempt: int  # 1-based number of the attempt about to be made
    is_test: bool = False
    done: asyncio.Future[AttemptResult] | None = field(default=None)
    #: time.monotonic() at which the row's lease ends (taken before the row was leased, so
    #: early rather than late); None for attempts that hold none (testWebhook).
    lease_deadline: float | None = None
    #: hub_events holds exactly this event's JSON (it was stored with this job, or the job was
    #: read from it): a default JSON body then need not be written to the history again.
    event_stored: bool = False


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: DeliveryStore,
        client: HTTPClient,
        secret_box: SecretBox,
        metrics: Metrics,
        on_disable: Callable[[str, str], Awaitable[None]],
        on_exhausted: Callable[[DeliveryJob, AttemptResult], Awaitable[None]],
        on_outcomes: Callable[[set[str], set[str]], Awaitable[None]],
        room_freed: asyncio.Event | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.secret_box = secret_box
        self.metrics = metrics
        self.on_disable = on_disable
        self.on_exhausted = on_exhausted
        self.on_outcomes = on_outcomes
        #: Set when a full endpoint queue has drained to half: the scheduler may then claim the
        #: deliveries that were left in PostgreSQL for it.
        self.room_freed = room_freed
        self._global = asyncio.Semaphore(settings.delivery_concurrency)
        #: Per endpoint: jobs not started yet, and how many runners work through them (at
        #: most HUB_ENDPOINT_CONCURRENCY). Runners, not a task per job: a task and two semaphore
        #: waits per job cost about 16 µs, a runner taking the next job about 2 µs.
        self._waiting: dict[str, deque[tuple[DeliveryJob, asyncio.Future[None]]]] = {}
        self._runners: dict[str, int] = {}
        self._queued: dict[str, int] = {}
        self._rates: dict[str, EndpointRate] = {}
        #: Endpoints whose queue was full when work for them came: their rows wait in
        #: PostgreSQL, so the scheduler is woken when the queue has drained to half.
        self._spilled: set[str] = set()
        self._runner_tasks: set[asyncio.Task[None]] = set()
        self._held = 0  # jobs submitted and not finished
        self._attempts: list[AttemptRecord] = []
        self._updates: list[DeliveryUpdate] = []
        self._succeeded: set[str] = set()
        self._failed: set[str] = set()
        self._flush_wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._secrets_cache: dict[tuple[str, int], list[bytes]] = {}
        self._room = asyncio.Event()
        self._room.set()

    # -- capacity -------------------------------------------------------------------------------
    def queue_limit(self, webhook_id: str) -> int:
        """Deliveries this endpoint may have waiting in memory (see ``delivery/capacity.py``)."""
        rate = self._rates.get(webhook_id)
        return queue_limit(
            rate.current(time.monotonic()) if rate is not None else None,
            lease_seconds=self.settings.delivery_lease_seconds,
            concurrency=self.settings.endpoint_concurrency,
            ceiling=self.settings.endpoint_queue_limit,
        )

    def room_for_new(self, webhook_id: str) -> int:
        """New events may fill only half an endpoint's queue; the other half is the scheduler's,
        for deliveries left in PostgreSQL earlier. Otherwise a busy endpoint kept full by new
        events would never take its older backlog."""
        return self.queue_limit(webhook_id) // 2 - self.queued(webhook_id)

    def mark_spilled(self, webhook_id: str) -> None:
        """Work for this endpoint was left in PostgreSQL: wake the scheduler once it has room."""
        self._spilled.add(webhook_id)

    @property
    def max_held(self) -> int:
        """Jobs held in memory before ingest waits. Twice the most one endpoint may hold, so a
        single endpoint (fast, then suddenly timing out) can never take all of it and hold
        back the others."""
        return max(self.settings.delivery_concurrency * 4, 2 * self.settings.endpoint_queue_limit)

    @property
    def in_flight(self) -> int:
        return self._held

    def queued(self, webhook_id: str) -> int:
        return self._queued.get(webhook_id, 0)

    def saturated_endpoints(self) -> list[str]:
        """Webhooks whose in-memory queue is full: nothing more should be taken for them.

        They are marked spilled too: whoever asks leaves their rows in PostgreSQL, so the
        scheduler must be woken once they have drained to half."""
        full = [wid for wid, n in self._queued.items() if n >= self.queue_limit(wid)]
        self._spilled.update(full)
        return full

    async def wait_for_room(self) -> None:
        """Global back-pressure on ingest (fan-out runs inline): don't read more than we can
        send. It also holds back the canonical topic, which ingest writes."""
        while self._held >= self.max_held:
            self._room.clear()
            await self._room.wait()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def stop(self) -> None:
        if self._runner_tasks:
            await asyncio.wait(self._runner_tasks, timeout=self.settings.webhook_max_timeout + 1)
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self.flush()

    # -- submission -----------------------------------------------------------------------------
    def submit(self, job: DeliveryJob) -> asyncio.Future[None]:
        """Queue ``job`` for its endpoint; the future is done when the job is (tests wait)."""
        webhook_id = job.webhook.id
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queued[webhook_id] = self._queued.get(webhook_id, 0) + 1
        self._held += 1
        waiting = self._waiting.get(webhook_id)
        if waiting is None:
            waiting = self._waiting[webhook_id] = deque()
        waiting.append((job, done))
        runners = self._runners.get(webhook_id, 0)
        if runners < self.settings.endpoint_concurrency:
            self._runners[webhook_id] = runners + 1
            runner = loop.create_task(self._work_through(webhook_id, waiting))
            self._runner_tasks.add(runner)
            runner.add_done_callback(self._runner_tasks.discard)
        return done

    async def _work_through(
        self, webhook_id: str, waiting: deque[tuple[DeliveryJob, asyncio.Future[None]]]
    ) -> None:
        """One of an endpoint's runners: its jobs one after another until none is left.

        No await between finding the queue empty and leaving the count, so a job submitted
        meanwhile always finds a runner, or room to start one."""
        try:
            while waiting:
                job, done = waiting.popleft()
                try:
                    await self._run(job)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery task crashed", extra={
                        "webhook_id": webhook_id, "delivery_id": job.delivery_id})
                finally:
                    self._held -= 1
                    if self._held < self.max_held:
                        self._room.set()
                    if not done.done():
                        done.set_result(None)
        finally:
            left = self._runners.get(webhook_id, 1) - 1
            if left <= 0:
                self._runners.pop(webhook_id, None)
                if not waiting and self._waiting.get(webhook_id) is waiting:
                    del self._waiting[webhook_id]
            else:
                self._runners[webhook_id] = left

    def secrets_for(self, webhook: Webhook) -> list[bytes]:
        key = (webhook.id, webhook.version)
        cached = self._secrets_cache.get(key)
        if cached is None:
            cached = [decode_secret(self.secret_box.decrypt(webhook.secret_enc))]
            if webhook.previous_secret_enc:
                cached.append(decode_secret(self.secret_box.decrypt(webhook.previous_secret_enc)))
            if len(self._secrets_cache) > 10000:
                self._secrets_cache.clear()
            self._secrets_cache[key] = cached
        expires = webhook.previous_secret_expires_at
        if len(cached) > 1 and expires is not None and expires < time.time():
            return cached[:1]
        return cached

    async def attempt_now(self, job: DeliveryJob) -> AttemptResult:
        """Send one attempt outside the limits (testWebhook): the caller is waiting for it.

        Never raises: a failure on our side (a secret that no longer decrypts because
        HUB_ENCRYPTION_KEY changed, a bug) is recorded as a failed attempt with the reason and
        retried on schedule, instead of a crashed task that leaves no trace in the history.
        """
        try:
            return await self._attempt(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "delivery attempt failed inside the hub",
                extra={"webhook_id": job.webhook.id, "delivery_id": job.delivery_id},
            )
            return AttemptResult(
                OutcomeKind.FAILURE,
                None,
                0,
                f"hub error before sending: {type(exc).__name__}: {exc}",
                None,
                None,
            )

    async def _attempt(self, job: DeliveryJob) -> AttemptResult:
        return await send_attempt(
            self.client,
            job.webhook,
            job.event,
            job.message_id,
            self.secrets_for(job.webhook),
            self.settings.max_payload_bytes,
        )

    async def _run(self, job: DeliveryJob) -> None:
        webhook_id = job.webhook.id
        try:
            async with self._global:
                now = time.monotonic()
                deadline = job.lease_deadline
                if deadline is not None and not lease_allows(deadline, now, job.webhook.timeout):
                    # Waited too long: the row is due again and the scheduler (here or in
                    # another worker) owns it now; sending too would be a duplicate.
                    self.metrics.lease_expired_unsent.inc()
                    return
                result = await self.attempt_now(job)
                rate = self._rates.get(webhook_id)
                if rate is None:
                    rate = self._rates[webhook_id] = EndpointRate(now)
                rate.observe(time.monotonic())
            await self.complete(job, result)
        finally:
            left = self._queued.get(webhook_id, 1) - 1
            if left <= 0:
                self._queued.pop(webhook_id, None)
            else:
                self._queued[webhook_id] = left
            if webhook_id in self._spilled and left <= self.queue_limit(webhook_id) // 2:
                self._spilled.discard(webhook_id)
                if self.room_freed is not None:
                    self.room_freed.set()

    async def complete(self, job: DeliveryJob, result: AttemptResult) -> Decision:
        policy = policy_for(
            job.webhook.retry_count,
            job.webhook.retry_interval,
            self.settings.webhook_retry_schedule,
        )
        decision = decide(result, job.attempt, policy, is_test=job.is_test)
        self.metrics.observe_attempt(job.webhook.id, decision.attempt_status, result.elapsed_ms)
        body_is_event = job.event_stored and result.body is job.event.raw
        body = None
        if result.body is not None and not body_is_event:
            body = result.body.decode("utf-8", "replace")
            if len(body) > BODY_HISTORY_BYTES:
                body = body[:BODY_HISTORY_BYTES]
        self._attempts.append(
            AttemptRecord(
                id=new_attempt_id(),
                delivery_id=job.delivery_id,
                message_id=job.message_id,
                webhook_id=job.webhook.id,
                event_id=job.event.id,
                event_type=job.event.type,
                attempt=job.attempt,
                status=decision.attempt_status,
                response_status=result.status,
                response_body=storable(result.response_excerpt),
                execution_time_ms=result.elapsed_ms,
                error_message=storable(result.error),
                request_body=storable(body),
                next_retry_in=decision.retry_in,
                is_test=job.is_test,
                body_is_event=body_is_event,
            )
        )
        self._updates.append(
            DeliveryUpdate(
                delivery_id=job.delivery_id,
                status=decision.delivery_status,
                attempts=job.attempt,
                due_in=decision.retry_in,
                last_error=storable(result.error),
            )
        )
        if not job.is_test:
            if decision.attempt_status == "success":
                self._succeeded.add(job.webhook.id)
            elif not result.render_failed:
                self._failed.add(job.webhook.id)
        if len(self._attempts) >= FLUSH_MAX:
            self._flush_wakeup.set()
        if decision.disable_reason:
            await self.on_disable(job.webhook.id, decision.disable_reason)
        if decision.exhausted:
            await self.on_exhausted(job, result)
        return decision

    # -- recording ------------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_wakeup.wait(), FLUSH_SECONDS)
            self._flush_wakeup.clear()
            try:
                await self.flush()
            except Exception:  # database down: keep the rows, try again; leases cover a crash
                log.exception("could not record delivery outcomes; will retry")
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        if not self._attempts and not self._updates and not self._succeeded and not self._failed:
            return
        attempts, updates = self._attempts, self._updates
        succeeded, failed = self._succeeded, self._failed
        self._attempts, self._updates, self._succeeded, self._failed = [], [], set(), set()
        try:
            try:
                await self.store.record(attempts, updates)
            except asyncpg.DataError:
                # Not the database being down: something in the rows themselves. Keep the
                # delivery states (they drive retries) and drop the history rows, loudly.
                log.exception("history rows rejected by PostgreSQL; recording states only",
                              extra={"attempts": len(attempts)})
                await self.store.record([], updates)
            await self.on_outcomes(succeeded, failed)
        except BaseException:
            self._attempts[:0] = attempts
            self._updates[:0] = updates
            self._succeeded |= succeeded
            self._failed |= failed
            raise
