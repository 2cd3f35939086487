"""The file handling both trace writers share."""

from __future__ import annotations

from types import TracebackType
from typing import IO, Any


class TraceFile:
    """A writer's output: a file it opened itself (and closes) or one the caller handed in (left open).
    Subclasses set ``_file``, ``_owned`` and ``_closed`` in ``__init__``."""

    _file: IO[Any]
    _owned: bool
    _closed: bool

    @property
    def closed(self) -> bool:
        return self._closed

    def flush(self) -> None:
        """Push buffered data to the file (each write already does this)."""
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if the writer opened it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._file.flush()
        finally:
            if self._owned:
                self._file.close()

    def __enter__(self):  # type: ignore[no-untyped-def]  # returns the subclass instance
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
