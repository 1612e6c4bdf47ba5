"""The one error type bad input raises: it says where (file, row, column) and what."""

from __future__ import annotations


class DataValidationError(ValueError):
    """Input data that cannot be accepted; `str()` is a one-line message for people.

    `row` counts data rows from 1 (a CSV header is not a row; a YAML/JSON list element
    is a row), or is None when the fault is in the file as a whole.
    """

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.message = message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")
