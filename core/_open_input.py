"""Open the input of a request, at the OME-Zarr pyramid level it asks or implies.

Every format is opened by :func:`.io.open_image` with the request's
:class:`~._inputs.InputOptions`.  A multiscale OME-Zarr adds one decision:
which level to read.  ``level`` given: that one.  Otherwise the finest for
label maps (a coarser level may have lost small labels) and, for
intensities, the coarsest level whose spacing is still at least as fine as
the target's (:func:`._zarr_read.choose_level`), which makes downsampling a
100 GB pyramid cheap.

The output grid never depends on the level read: it is computed from level
0's grid and handed on as ``Target(like=grid)``.
"""

from __future__ import annotations

import os
from dataclasses import replace

from .io import SourceImage, open_image
from .requests import ResampleRequest, Target

__all__ = ["open_input"]


def open_input(path: str | os.PathLike[str], request: ResampleRequest) -> tuple[SourceImage, ResampleRequest]:
    """The opened input of ``request`` and the request to run on it.

    Returns
    -------
    source : SourceImage
    request : ResampleRequest
        ``request`` itself, or, when a pyramid level other than 0 is read,
        with its target fixed to the grid computed from level 0.

    Raises
    ------
    InputError, HeaderError, OptionError
        As :func:`.io.open_image`; ``level`` beyond the pyramid.
    """
    from .stream import is_zarr_path

    options = request.input
    if not is_zarr_path(path):
        return open_image(path, options=options), request
    from ._zarr_read import choose_level, level_grids

    grids = level_grids(path)
    level = options.level
    if level is None:
        level = 0 if request.labels or len(grids) == 1 else \
            choose_level(grids, request.target.grid_for(grids[0]))
    if level == 0:
        return open_image(path, options=replace(options, level=0)), request
    target = Target(like=request.target.grid_for(grids[0]))
    source = open_image(path, options=replace(options, level=level))
    return source, replace(request, target=target)
