"""What a build's worker processes share across backends: their error, and dying with the
process that started them (a writer killed mid-build leaves no process behind)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

from ..errors import VeilleError

_PR_SET_PDEATHSIG = 1


class BuildWorkerError(VeilleError):
    """A build worker process failed."""


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel to kill this process when its parent dies (Linux; elsewhere nothing);
    exit at once if ``parent`` (its pid) has died already, as while a spawned worker
    started."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
