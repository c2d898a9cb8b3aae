"""Every file the suite writes appears whole or not at all, with the permissions the user's umask asks for."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import IO, Callable


@functools.cache
def _file_mode() -> int:
    """0666 less the umask: what ``open()`` would have given (a temporary file starts at 0600). Read from /proc
    where it can be: setting the umask to read it would, for a moment, apply to every thread's new files."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | Path, data: str | bytes | Callable[[IO[bytes]], None]) -> Path:
    """Write ``data`` (text, bytes, or a function that writes into a binary file) to ``path`` through a temporary
    file in the same directory, flushed to disk and renamed into place: a reader, or a writer killed halfway (a
    full disk, a file-size limit, SIGKILL), leaves either the old file or the new one. Raises OSError; the
    temporary file is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
