"""The ``--fail-on`` checks of a :func:`core.compare.compare_images` report.

A leaf below :mod:`core.compare`: it reads the report dict and imports only the errors.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import OptionError

__all__ = ["failed_checks", "parse_fail_on", "FAIL_CONDITIONS", "DICE_CONDITIONS",
           "DEFAULT_FOV_TOLERANCE"]

#: Conditions :func:`failed_checks` can test (``--fail-on``); besides these, the Dice
#: thresholds ``dice<X`` (mean Dice) and ``worst-dice<X`` (the worst label's Dice).
FAIL_CONDITIONS: tuple[str, ...] = ("lost-labels", "new-labels", "fov-shift")
DICE_CONDITIONS: tuple[str, ...] = ("dice", "worst-dice")

#: Default FOV tolerance in mm for ``fov-shift``.
DEFAULT_FOV_TOLERANCE = 0.01


def failed_checks(
    report: dict[str, Any], *, fail_on: tuple[str, ...] | list[str],
    fov_tolerance: float = DEFAULT_FOV_TOLERANCE,
) -> list[str]:
    """The ``fail_on`` conditions that ``report`` meets, each with its reason.

    Parameters
    ----------
    report : dict
        A :func:`compare_images` result.
    fail_on : sequence of {'lost-labels', 'new-labels', 'fov-shift', 'dice<X', 'worst-dice<X'}
        ``lost-labels``: a nonzero label of ``a`` is absent from ``b``.
        ``new-labels``: ``b`` holds a nonzero label absent from ``a``.
        Both also fail when the labels could not be compared (e.g. ``b`` was
        saved as floats).
        ``fov-shift``: the FOV centre moved by more than ``fov_tolerance`` mm,
        or (for grids with the same direction) an outer edge moved by more
        than half a voxel of ``b`` plus ``fov_tolerance``: rounding a voxel
        count legitimately moves an edge by up to half an output voxel,
        while keeping the first voxel centre, the classic script bug, moves
        the centre.
        ``dice<X``: the mean Dice over the nonzero labels is below ``X``;
        ``worst-dice<X``: some label's Dice (the worst) is below ``X`` (0 <= X <= 1).
        Both also fail when the labels could not be compared.
    fov_tolerance : float
        In mm, non-negative.

    Returns
    -------
    list of str
        ``'<condition>: <reason>'`` for each condition met; empty when none.

    Raises
    ------
    OptionError
        For an unknown condition or a negative tolerance.
    """
    fail_on = parse_fail_on(fail_on)
    if not fov_tolerance >= 0:
        raise OptionError(f"fov_tolerance: expected a non-negative number of mm, got {fov_tolerance!r}",
                          param="fov_tolerance")
    failed: list[str] = []
    lab = report.get("labels") or {}
    label_checks = [c for c in fail_on if c in ("lost-labels", "new-labels") or "<" in c]
    if label_checks and "per_label" not in lab:
        # A label map that came back as floats is exactly what these checks are for.
        why = lab.get("skipped") or "not both unscaled integer images"
        failed += [f"{c}: labels were not compared ({why})" for c in label_checks]
    if "lost-labels" in fail_on and lab.get("lost"):
        failed.append(f"lost-labels: {_ids(lab['lost'])} missing from b")
    if "new-labels" in fail_on and lab.get("new"):
        failed.append(f"new-labels: {_ids(lab['new'])} not in a")
    failed += _dice_checks(lab, fail_on)
    if "fov-shift" in fail_on:
        fov = report["fov"]
        spacing_b = report["b"]["spacing"]
        if fov["center_shift"] > fov_tolerance:
            failed.append(f"fov-shift: FOV centre moved {fov['center_shift']:.4g} mm "
                          f"(tolerance {fov_tolerance:g} mm)")
        elif fov["same_direction"]:  # a rotated box has no matching edges to compare
            for e in fov["edges"]:
                half = 0.5 * spacing_b[e["axis"]]
                worst = max(abs(e["low_mm"]), abs(e["high_mm"]))
                if worst > half + fov_tolerance:
                    failed.append(f"fov-shift: an outer edge of axis {e['axis']} moved {worst:.4g} mm "
                                  f"(more than half a voxel of b plus {fov_tolerance:g} mm)")
                    break
    return failed


def _ids(ids: list[int], most: int = 10) -> str:
    text = ", ".join(str(i) for i in ids[:most])
    more = f" and {len(ids) - most} more" if len(ids) > most else ""
    return f"label{'s' if len(ids) > 1 else ''} {text}{more}"


def parse_fail_on(fail_on: tuple[str, ...] | list[str]) -> list[str]:
    """``fail_on`` checked and normalised (``'Dice < 0.9'`` -> ``'dice<0.9'``).

    Raises
    ------
    OptionError
        For an unknown condition, or a Dice threshold that is not a number in [0, 1].
    """
    known = ", ".join(FAIL_CONDITIONS + tuple(f"{d}<X" for d in DICE_CONDITIONS))
    out: list[str] = []
    for raw in fail_on:
        c = "".join(str(raw).split()).lower()
        if "<" in c:
            name, _, value = c.partition("<")
            try:
                x = float(value)
            except ValueError:
                x = math.nan
            if name not in DICE_CONDITIONS or not 0.0 <= x <= 1.0:
                raise OptionError(f"fail_on: expected {known} (X a Dice between 0 and 1), "
                                  f"got {raw!r}", param="fail_on")
            c = f"{name}<{x:g}"
        elif c not in FAIL_CONDITIONS:
            raise OptionError(f"fail_on: expected {known}, got {raw!r}", param="fail_on")
        out.append(c)
    return out


def _dice_checks(lab: dict[str, Any], fail_on: list[str]) -> list[str]:
    """The ``dice<X`` (mean) and ``worst-dice<X`` (worst label) conditions that hold."""
    failed: list[str] = []
    for c in fail_on:
        name, _, value = c.partition("<")
        if name not in DICE_CONDITIONS or "per_label" not in lab:
            continue
        x = float(value)
        if name == "dice" and lab["dice_mean"] is not None and lab["dice_mean"] < x:
            failed.append(f"{c}: mean Dice {lab['dice_mean']:.4g} is below {x:g}")
        worst = lab["dice_worst"]
        if name == "worst-dice" and worst is not None and worst["dice"] < x:
            failed.append(f"{c}: Dice of label {worst['label']} is {worst['dice']:.4g}, below {x:g}")
    return failed
