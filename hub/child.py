"""What every process the hub starts (its worker, the demo business systems) does first.

Such a process belongs to the hub: it stops when the hub tells it to, and dies when the hub dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def belong_to(parent_pid: int) -> None:
    """Called first thing in a child of the hub whose pid is ``parent_pid``.

    The terminal's Ctrl-C and a service manager's SIGTERM reach the whole process group: the hub stops its
    children itself, once its own requests are answered, so they ignore both. And they are killed with
    the hub, even by SIGKILL (Linux): a transaction the hub can no longer answer for must not commit behind
    its back, and a server it started must not outlive it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the hub died before the death signal was asked for
        os._exit(1)
