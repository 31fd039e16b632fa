"""Keep nibabel's log lines and numpy's warnings off stderr (issue 15 item 11): a leaf of core.

:func:`quiet_nibabel` wraps every nibabel call of core that reads or builds a header
(:mod:`.io`, :mod:`._nifti_raw`, :mod:`._nibabel`, :mod:`.info`, :mod:`.writer`).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

import numpy as np

__all__ = ["quiet_nibabel"]

_lock = threading.Lock()
_depth = 0
_was_disabled = False


@contextlib.contextmanager
def quiet_nibabel() -> Iterator[None]:
    """Silence nibabel's ``nibabel.global`` logger, Python warnings and numpy's
    floating-point warnings while nibabel reads or builds a header.

    nibabel logs what its header checks find or fix ("magic string ... not valid",
    "sizeof_hdr should be 540" when a NIfTI-1 header becomes NIfTI-2) to a stderr
    handler, and numpy warns on NaN arithmetic; the CLI promises only its own
    lines, and what matters reaches the user through our own errors and warnings.

    Re-entrant and safe across threads (batch workers): the logger is disabled
    while any thread is inside and restored by the last one out.
    """
    global _depth, _was_disabled
    from nibabel.imageglobals import logger

    # (nibabel's own LoggingOutputSuppressor drops its handler for good and
    # then Python's last-resort handler prints anyway.)
    with _lock:
        if _depth == 0:
            _was_disabled = logger.disabled
            logger.disabled = True
        _depth += 1
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                logger.disabled = _was_disabled
