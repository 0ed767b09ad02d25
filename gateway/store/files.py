"""Files only the gateway's own user may read: directories 0700, files 0600.

The data dir holds the SQLite database (with its WAL and shared-memory
files), the media mirror, uploads, the upstream client id and token, the
URL-signing key and the encryption keys. Modes are set on creation and
tightened (never loosened) on every start, so a data dir made by an older
version, or under a loose umask, is fixed by the next start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (created if missing)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read (created empty if missing)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def create_once(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (0600) unless it exists, atomically.

    Processes sharing a data dir may start together: each writes a temporary
    file and links it into place; the first link wins and the others keep it.
    """
    if path.exists():
        return
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    try:
        os.link(tmp, path)  # fails if another process won the race: use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def tighten_existing(path: Path) -> None:
    """Remove group and other access from ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        _tighten(path, FILE_MODE)


def _tighten(path: Path, allowed: int) -> None:
    # Only bits beyond ``allowed`` are removed; a file we do not own is left alone.
    with contextlib.suppress(PermissionError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & ~allowed:
            os.chmod(path, mode & allowed)
