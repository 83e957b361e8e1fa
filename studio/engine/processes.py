"""Whether a process on this machine is still alive: what sweeps of files left by killed
renders (scratch clips, staged takes) and the queue's orphan check ask."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True unless ``pid`` is certainly gone. Errs on the side of alive: a live process's
    files must never be swept."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would kill it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True
