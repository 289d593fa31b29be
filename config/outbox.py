"""The outbox: work that leaves the process (pages, webhooks, notices, emails) is a row first.

One rule for every outbox model, held by an `Outbox` policy per model:

- claim: one conditional UPDATE (`… WHERE claimed_at IS NULL OR claimed_at < now - stale`);
  zero rows means another worker has it. Claiming counts the attempt, so a worker that dies
  mid-send has used one.
- stale claim: a claim older than `stale_after` belongs to a worker that died mid-send; the row
  is claimable again and the send is repeated (an ambiguous send is resent, never dropped).
- backoff: after attempt n fails the row is due again after `retry_delays[n - 1]`; after the
  last delay it has failed for good. The error is written on the row and logged either way.

A model takes part by having the columns a policy names (defaults: status, claimed_at, attempts,
last_error, due_at). The helper never sends anything itself: callers claim, send through their
channel or config.outbound, then call record_success or record_failure.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q

log = logging.getLogger(__name__)

BATCH = 200


def doubling(first: timedelta, count: int) -> tuple[timedelta, ...]:
    """A backoff schedule that doubles: first, 2×first, 4×first… (`count` delays)."""
    return tuple(first * 2 ** n for n in range(count))


@dataclass(frozen=True)
class Outbox:
    name: str
    stale_after: timedelta
    retry_delays: tuple[timedelta, ...]
    pending: str = "pending"
    failed: str = "failed"
    done: str = "delivered"
    status_field: str = "status"
    claim_field: str = "claimed_at"
    due_field: str = "due_at"
    attempts_field: str = "attempts"
    error_field: str = "last_error"
    done_field: str | None = None  # when the row was delivered (or failed for good)
    # Columns a claim sets for the send in flight and a failed attempt clears again.
    cleared_on_failure: dict = field(default_factory=dict)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    # --- Queries ---------------------------------------------------------------------------

    def unclaimed(self, now: datetime) -> Q:
        """Nobody holds the row: never claimed, or the claim went stale."""
        return Q(**{self.claim_field: None}) | Q(**{f"{self.claim_field}__lt":
                                                    now - self.stale_after})

    def due(self, now: datetime) -> Q:
        """Pending, due and unclaimed: what a worker may claim now."""
        return self.unclaimed(now) & Q(**{self.status_field: self.pending,
                                          f"{self.due_field}__lte": now})

    def due_ids(self, model: type[models.Model], now: datetime, limit: int = BATCH) -> list:
        return list(model.objects.filter(self.due(now)).order_by(self.due_field, "pk")
                    .values_list("pk", flat=True)[:limit])

    # --- Claims ----------------------------------------------------------------------------

    def claim(self, model: type[models.Model], pk, now: datetime) -> bool:
        """Take the row for one attempt; False when it is taken, done or not due."""
        return model.objects.filter(self.due(now), pk=pk).update(**{
            self.claim_field: now, self.attempts_field: F(self.attempts_field) + 1}) == 1

    def release_stale(self, model: type[models.Model], now: datetime) -> int:
        """Free the claims of workers that died mid-send; their rows are sent again."""
        released = model.objects.filter(**{
            self.status_field: self.pending,
            f"{self.claim_field}__lt": now - self.stale_after,
        }).update(**{self.claim_field: None})
        if released:
            log.warning("%s: released %s stale claim(s); those sends are repeated",
                        self.name, released)
        return released

    # --- Results ---------------------------------------------------------------------------

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When attempt `attempts + 1` is due, or None when `attempts` was the last."""
        if attempts >= self.max_attempts:
            return None
        return now + self.retry_delays[attempts - 1]

    def gives_up(self, row: models.Model) -> bool:
        return getattr(row, self.attempts_field) >= self.max_attempts

    def record_failure(self, row: models.Model, error: str, now: datetime,
                       **extra) -> datetime | None:
        """Write the failed attempt on the row: due again after the backoff (returned), or
        failed for good (None). `extra` are further columns to write with it."""
        attempts = getattr(row, self.attempts_field)
        retry = self.retry_at(attempts, now)
        values = {**self.cleared_on_failure, **extra, self.claim_field: None,
                  self.error_field: self._trim(row, error)}
        if retry is None:
            values[self.status_field] = self.failed
            if self.done_field:
                values[self.done_field] = now
            log.warning("%s %s failed for good after %s attempts: %s", self.name, row.pk,
                        attempts, error)
        else:
            values[self.due_field] = retry
            log.info("%s %s failed (attempt %s), retry at %s: %s", self.name, row.pk, attempts,
                     retry.isoformat(), error)
        self._write(row, values)
        return retry

    def record_success(self, row: models.Model, now: datetime, **extra) -> None:
        values = {self.status_field: self.done, self.claim_field: None, **extra}
        if self.done_field:
            values[self.done_field] = now
        self._write(row, values)

    def _trim(self, row: models.Model, error: str) -> str:
        limit = row._meta.get_field(self.error_field).max_length or 2000
        return str(error)[:limit]

    def _write(self, row: models.Model, values: dict) -> None:
        type(row).objects.filter(pk=row.pk).update(**values)
        for name, value in values.items():
            setattr(row, name, value)
