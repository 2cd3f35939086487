"""The file handling both trace writers share, rotation included."""

from __future__ import annotations

import os
from types import TracebackType
from typing import IO, Any


class TraceFile:
    """A writer's output: a file it opened itself (and closes) or one the caller handed in (left open).
    Subclasses set ``_file``, ``_owned`` and ``_closed`` in ``__init__``, and call ``_rotation`` when
    they opened a path.

    Rotation (a long run must not fill the disk): once a file holds ``max_bytes``, it is renamed to
    ``path.1`` (``path.1`` to ``path.2``, ...; the oldest of ``backups`` goes) and writing goes on in a
    fresh ``path``, which starts with what ``_file_header`` returns (pcapng: its section header)."""

    _file: IO[Any]
    _owned: bool
    _closed: bool
    _path: str | None = None
    _max_bytes: int | None = None
    _backups = 0
    _size = 0
    _mode = "wb"
    #: files this writer has rotated away since it was opened
    rotations = 0

    def _rotation(self, path: str | os.PathLike[str], mode: str, max_bytes: int | None, backups: int) -> None:
        if max_bytes is not None and (max_bytes < 1 or backups < 1):
            raise ValueError(f"max_bytes and backups must be >= 1, got {max_bytes}, {backups}")
        self._path, self._mode, self._max_bytes, self._backups = os.fspath(path), mode, max_bytes, backups

    def _file_header(self) -> bytes | str:
        """What every file starts with (written again after each rotation)."""
        return b"" if "b" in self._mode else ""

    def _wrote(self, n: int) -> None:
        """Count ``n`` bytes written; rotate once the file is full."""
        self._size += n
        if self._max_bytes is not None and self._size >= self._max_bytes and self._owned and self._path:
            self._rotate()

    def _rotate(self) -> None:
        assert self._path is not None
        self._file.close()
        for i in range(self._backups - 1, 0, -1):
            older = f"{self._path}.{i}"
            if os.path.exists(older):
                os.replace(older, f"{self._path}.{i + 1}")
        os.replace(self._path, f"{self._path}.1")
        kw = {} if "b" in self._mode else {"encoding": "utf-8", "newline": "\n"}
        self._file = open(self._path, self._mode, **kw)  # noqa: SIM115 - closed in close()
        self._size = 0
        self.rotations += 1
        header = self._file_header()
        if header:
            self._file.write(header)
            self._file.flush()
            self._size = len(header)

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
