"""Optional filters → a parametrized WHERE clause (column names from our code, values as ``$n``).

List queries (webhooks, executions, and later exports and run history) take optional filters;
building the clause in one place keeps values out of the SQL text everywhere.
"""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, condition: str, value: Any) -> Where:
        """``condition`` holds ``{}`` where the value's placeholder goes; ``None`` = no filter."""
        if value is not None:
            self.args.append(value)
            self.parts.append(condition.format(f"${len(self.args)}"))
        return self

    def equals(self, column: str, value: Any) -> Where:
        return self.add(f"{column} = {{}}", value)

    @property
    def clause(self) -> str:
        return (" WHERE " + " AND ".join(self.parts)) if self.parts else ""

    def page(self, limit: int, offset: int) -> tuple[str, list[Any]]:
        """``LIMIT``/``OFFSET`` placeholders after the filters', and all the arguments."""
        n = len(self.args)
        return f" LIMIT ${n + 1} OFFSET ${n + 2}", [*self.args, limit, offset]
