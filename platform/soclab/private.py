"""Files that can hold a credential, and the directories they live in, readable by their owner only.

soclab's state directory (`~/.soclab`: the local cluster's state, its Ray token and `env.sh`,
tracking-server PID files) is 0700, and every file there that can carry a secret (a token, a
backend URI with a PostgreSQL password) is written 0600 from the start, never chmod-ed after a
window in which others could read it.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ROOT = Path.home() / ".soclab"


def private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing `~/.soclab` or a directory under
    it is tightened to 0700 too. Other existing directories are left as they are."""
    path = Path(path).expanduser()
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=0o700, exist_ok=True)
        os.chmod(p, 0o700)
    root = STATE_ROOT.expanduser()
    for p in [path, *path.parents]:
        if (p == root or root in p.parents) and p.exists():
            os.chmod(p, 0o700)
    return path


def write_private(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically with mode 0600 (a temp file created 0600, then renamed)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
