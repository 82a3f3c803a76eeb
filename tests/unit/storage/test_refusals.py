"""Which PostgreSQL errors mean "these rows, never", and which are waited out."""

from __future__ import annotations

import asyncpg
import pytest

from fineract_hub.storage.db import rows_refused


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ForeignKeyViolationError("violates foreign key constraint"),
        asyncpg.UniqueViolationError("duplicate key value"),
        asyncpg.CharacterNotInRepertoireError("invalid byte sequence"),
        asyncpg.NumericValueOutOfRangeError("value out of range"),
    ],
    ids=type,
)
def test_bad_data_and_violated_constraints_are_refusals(error: BaseException) -> None:
    assert rows_refused(error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.TooManyConnectionsError("too many clients"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.InsufficientPrivilegeError("permission denied for table hub_events"),
        asyncpg.LockNotAvailableError("could not obtain lock"),
        asyncpg.UndefinedColumnError("column does not exist"),
        TypeError("a bug of ours"),
    ],
    ids=type,
)
def test_everything_else_is_waited_out(error: BaseException) -> None:
    # A failover (read-only for a while), a privilege restored, a bug fixed by a deploy: events
    # wait in Kafka rather than being dead-lettered wholesale.
    assert not rows_refused(error)
