"""Cancellation inside long kernels: a leaf module (imports nothing of core)."""

from __future__ import annotations

import sys

__all__ = ["check_cancel"]


def check_cancel() -> None:
    """Raise KeyboardInterrupt when a cancel was requested (:func:`.stream.request_cancel`).

    Called between Gaussian blocks and labels, so that a long kernel running on a slab
    thread (or in a batch worker) stops within one block of Ctrl-C or SIGTERM instead of
    finishing its slab.  Reads the stream's flag without importing it (no cycle; nothing
    to cancel when no stream was ever loaded).
    """
    stream = sys.modules.get(__name__.rsplit(".", 1)[0] + ".stream")
    flag = getattr(stream, "_CANCEL", None)
    if flag is not None and flag.is_set():
        raise KeyboardInterrupt
