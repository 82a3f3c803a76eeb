"""Which PostgreSQL errors are waited out, and which would fail the same rows forever."""

from __future__ import annotations

import asyncpg
import pytest

from fineract_hub.storage.db import is_outage


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
    ],
    ids=type,
)
def test_errors_that_pass_with_the_server_are_outages(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ForeignKeyViolationError("violates foreign key constraint"),
        asyncpg.CharacterNotInRepertoireError("invalid byte sequence"),
        asyncpg.UndefinedColumnError("column does not exist"),
        TypeError("a bug of ours"),
    ],
    ids=type,
)
def test_errors_about_the_rows_or_the_code_are_not(error: BaseException) -> None:
    assert not is_outage(error)
