"""The data dir is private to its owner: the directory 0700, every file in it 0600.

It holds the store, the conversations' checkpoints and the embedded runbook index: what
people said and decided during incidents. Another account on the host has no business
reading it, redacted or not.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from copilot.errors import ConfigError

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Files this process creates from now on are its owner's only.

    Why the process umask, and not a chmod after each open: SQLite creates its ``-wal``
    and ``-shm`` files itself (again after each checkpoint truncates them), and Chroma
    creates its sqlite file and a directory of index files per collection whenever it
    likes; neither takes a file mode. The umask is the one setting every ``open()`` of the
    process obeys, so those files are born private instead of being fixed afterwards
    (which would leave a window, and miss the files made later). Bits the operator
    already masks stay masked."""
    old = os.umask(PRIVATE_UMASK)
    if old | PRIVATE_UMASK != PRIVATE_UMASK:
        os.umask(old | PRIVATE_UMASK)


def secure_data_dir(path: Path) -> None:
    """Create ``path`` (0700) if needed, set the private umask, and take group and other
    access away from what already exists in it (a data dir made by an earlier release)."""
    private_umask()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        tighten(path)
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                tighten(Path(root) / name)
    except OSError as exc:
        raise ConfigError(
            f"cannot make the data dir {path} private ({type(exc).__name__})",
            "check that it belongs to the user running the copilot, or set COPILOT_DATA_DIR",
        ) from None


def tighten(path: Path) -> None:
    """Drop group and other permissions from one file or directory of ours, if it has
    any (a symbolic link, or a file another user owns, is left alone)."""
    try:
        st = path.lstat()
    except FileNotFoundError:  # removed meanwhile (a SQLite -shm file of a closed db)
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        path.chmod(mode & ~0o077)
