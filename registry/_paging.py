"""Keyset pagination: a cursor is the opaque form of the last row id a page returned."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, TypeVar, TypeVarTuple

from registry._errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy import Select
    from sqlalchemy.orm import InstrumentedAttribute

Ts = TypeVarTuple("Ts")
RowT = TypeVar("RowT")

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def encode_cursor(value: int, kind: str = "id") -> str:
    """An opaque cursor for ``value`` (a last row id, or an offset with ``kind="offset"``)."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str = "id") -> int:
    """The number behind a cursor of ``kind``.

    Raises:
        InvalidInputError: the cursor was not made by :func:`encode_cursor`.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError("invalid pagination cursor") from exc


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return limit


def after_cursor(
    query: Select[*Ts], id_column: InstrumentedAttribute[int], cursor: str | None, limit: int
) -> Select[*Ts]:
    """Restrict ``query`` to the page after ``cursor``, with one extra row to tell if more follow."""
    if cursor is not None:
        query = query.where(id_column > decode_cursor(cursor))
    return query.order_by(id_column).limit(check_limit(limit) + 1)


def split_page(rows: Sequence[RowT], limit: int, id_of: Callable[[RowT], int]) -> tuple[list[RowT], str | None]:
    """The page's rows and the cursor of the next page (None on the last one)."""
    if len(rows) <= limit:
        return list(rows), None
    kept = list(rows[:limit])
    return kept, encode_cursor(id_of(kept[-1]))
