"""JSON Lines trace: one self-describing object per message or event, greppable and easy to diff.

Like the pcapng writer it never reads the clock: each record carries the caller's timestamp,
both as ISO 8601 UTC text (for people) and as the float (for programs).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from ._file import TraceFile
from .pcapng import timestamp_us

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(ts: float) -> str:
    """ISO 8601 UTC with microseconds and 'Z', rounded the same way as the pcapng timestamps."""
    us = timestamp_us(ts)
    try:
        moment = _EPOCH + timedelta(microseconds=us)
    except OverflowError:
        raise ValueError(f"ts {ts!r} is beyond the year 9999") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_fallback(value: Any) -> Any:
    """Make the odd non-JSON value (bytes in a TLS dict, a set, ...) loggable instead of failing."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex().upper()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


class JsonlWriter(TraceFile):
    """Writes one JSON object per line and flushes each, so a crash loses at most the current line.

    A path is opened (and later closed) by the writer, and rotated at ``max_bytes`` (see TraceFile;
    None: never); a file object (text or binary) is written to and flushed but left open for its owner.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[Any], *, max_bytes: int | None = None,
                 backups: int = 4) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._rotation(target, "w", max_bytes, backups)
            self._file: IO[Any] = open(target, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            self._owned = True
            self._text = True
        elif hasattr(target, "write"):
            self._file = target
            self._owned = False
            self._text = isinstance(target, io.TextIOBase)
        else:
            raise TypeError(f"target must be a path or a file object, got {type(target).__name__}")
        self._closed = False


    def write(self, ts: float, fields: Mapping[str, Any]) -> None:
        """One line: ``ts`` (ISO text) and ``t`` (the float) first, then ``fields`` in their order."""
        if self._closed:
            raise ValueError("JSON lines writer is closed")
        if not isinstance(fields, Mapping):
            raise TypeError(f"fields must be a mapping, got {type(fields).__name__}")
        record: dict[str, Any] = {"ts": iso_utc(ts), "t": ts}
        for key, value in fields.items():
            if not isinstance(key, str):
                raise TypeError(f"field names must be str, got {type(key).__name__}")
            if key in ("ts", "t"):
                raise ValueError(f"field {key!r} is reserved for the timestamp")
            record[key] = value
        try:
            line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=json_fallback,
                              separators=(",", ":")) + "\n"
        except (ValueError, RecursionError) as e:
            raise ValueError(f"record cannot be written as JSON: {e}") from None
        except TypeError as e:  # e.g. a dict key that is not a str, int, float, bool or None
            raise TypeError(f"record cannot be written as JSON: {e}") from None
        data = line if self._text else line.encode("utf-8")
        self._file.write(data)
        self._file.flush()
        self._wrote(len(data))

    def event(self, ts: float, event: str, **fields: Any) -> None:
        """A record without payload, e.g. ``{"event": "tcp_open", ...}``."""
        if not isinstance(event, str):
            raise TypeError(f"event must be a str, got {type(event).__name__}")
        self.write(ts, {"event": event, **fields})
