"""Cancellation of the work in progress: one flag, a leaf module (imports nothing of core).

Set by the CLI's SIGINT/SIGTERM handlers (through :func:`.stream.request_cancel`): writes
running on other threads (``-j N`` batches) stop at their next slab and long kernels at
their next block, and remove their temporaries, instead of finishing the file while the
process waits for them.
"""

from __future__ import annotations

import threading

__all__ = ["CANCEL", "request_cancel", "reset_cancel", "check_cancel"]

#: The one cancel flag of this process.
CANCEL = threading.Event()


def request_cancel() -> None:
    """Ask every write and kernel in this process to stop at its next slab or block."""
    CANCEL.set()


def reset_cancel() -> None:
    CANCEL.clear()


def check_cancel() -> None:
    """Raise KeyboardInterrupt when a cancel was requested.

    Called between Gaussian blocks and labels, so that a long kernel running on a slab
    thread (or in a batch worker) stops within one block of Ctrl-C or SIGTERM instead of
    finishing its slab.
    """
    if CANCEL.is_set():
        raise KeyboardInterrupt
