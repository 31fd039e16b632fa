"""Grid geometry: invariants checked on random rotations, spacings and shapes."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from niresample_cli.core.errors import GridError
from niresample_cli.core.grid import Grid, axis_aligned_map, voxel_map, voxel_sizes

from conftest import random_rotation

spacings = st.floats(min_value=0.01, max_value=5.0, allow_nan=False)
sizes = st.integers(min_value=1, max_value=400)


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rot = random_rotation(rng)
    if draw(st.booleans()):
        rot = rot @ np.diag([-1.0, 1.0, 1.0])  # left-handed voxel axes (radiological)
    sp = np.array([draw(spacings) for _ in range(3)])
    a = np.eye(4)
    a[:3, :3] = rot * sp
    a[:3, 3] = rng.uniform(-200, 200, size=3)
    return Grid((draw(sizes), draw(sizes), draw(sizes)), a)


def _edges(g: Grid) -> np.ndarray:
    return g.fov_corners()


@settings(max_examples=200, deadline=None)
@given(grids())
def test_spacing_is_column_norms(g: Grid) -> None:
    np.testing.assert_allclose(g.spacing, nib.affines.voxel_sizes(g.affine), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(g.direction, axis=0), 1.0, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(grids(), st.tuples(spacings, spacings, spacings))
def test_with_spacing_keeps_direction_centre_and_exact_spacing(g: Grid, new: tuple[float, float, float]) -> None:
    h = g.with_spacing(new)
    np.testing.assert_allclose(h.spacing, new, rtol=1e-12)
    np.testing.assert_allclose(h.direction, g.direction, atol=1e-12)
    np.testing.assert_allclose(h.fov_center, g.fov_center, atol=1e-7 * (1 + np.abs(g.fov_center).max()))
    for a in range(3):
        assert h.shape[a] == max(1, math.floor(g.shape[a] * g.spacing[a] / new[a] + 0.5)) or math.isclose(
            g.shape[a] * g.spacing[a] / new[a] % 1, 0.5, abs_tol=1e-6
        )


@settings(max_examples=200, deadline=None)
@given(grids(), st.tuples(st.integers(1, 400), st.integers(1, 400), st.integers(1, 400)),
       st.sampled_from(["center", "corner"]))
def test_with_shape_keeps_the_outer_edges_exactly(g: Grid, shape: tuple[int, int, int], anchor: str) -> None:
    h = g.with_shape(shape, anchor=anchor)  # type: ignore[arg-type]
    assert h.shape == shape
    scale = 1 + np.abs(_edges(g)).max()
    np.testing.assert_allclose(_edges(h), _edges(g), atol=1e-9 * scale)
    np.testing.assert_allclose(h.fov_mm, g.fov_mm, rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(grids(), st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)), st.booleans())
def test_integer_factors_keep_edges_and_round_trip(g: Grid, factors: tuple[int, int, int], up: bool) -> None:
    f = np.asarray(factors, dtype=float)
    new = g.spacing / f if up else g.spacing * f
    if not up and any(g.shape[a] % factors[a] for a in range(3)):
        return  # only whole ratios keep the edges exactly
    h = g.with_spacing(tuple(new))
    scale = 1 + np.abs(_edges(g)).max()
    np.testing.assert_allclose(_edges(h), _edges(g), atol=1e-9 * scale)
    back = h.with_spacing(tuple(g.spacing))
    assert back.shape == g.shape
    np.testing.assert_allclose(back.affine, g.affine, atol=1e-9 * scale)


@settings(max_examples=100, deadline=None)
@given(grids(), st.tuples(spacings, spacings, spacings))
def test_anchor_origin_keeps_first_voxel_centre(g: Grid, new: tuple[float, float, float]) -> None:
    h = g.with_spacing(new, anchor="origin")
    np.testing.assert_allclose(h.origin, g.origin, atol=1e-9 * (1 + np.abs(g.origin).max()))


@settings(max_examples=100, deadline=None)
@given(grids(), st.tuples(spacings, spacings, spacings))
def test_anchor_corner_keeps_first_outer_edge(g: Grid, new: tuple[float, float, float]) -> None:
    h = g.with_spacing(new, anchor="corner")
    scale = 1 + np.abs(_edges(g)).max()
    np.testing.assert_allclose(h.to_world(np.full(3, -0.5)), g.to_world(np.full(3, -0.5)), atol=1e-9 * scale)


@settings(max_examples=100, deadline=None)
@given(grids(), st.tuples(spacings, spacings, spacings))
def test_voxel_map_is_separable_with_the_spacing_ratio(g: Grid, new: tuple[float, float, float]) -> None:
    h = g.with_spacing(new)
    m = axis_aligned_map(g, h)
    assert m is not None
    scale, offset = m
    np.testing.assert_allclose(scale, np.asarray(new) / g.spacing, rtol=1e-9)
    # Any output voxel lands where the map says, in world coordinates.
    ijk = np.array([0.0, 0.0, 0.0]) + np.asarray(h.shape) - 1
    np.testing.assert_allclose(g.to_world(scale * ijk + offset), h.to_world(ijk), atol=1e-7 * (1 + np.abs(h.to_world(ijk)).max()))


def test_unspecified_axes_keep_their_spacing() -> None:
    g = Grid((512, 512, 300), np.diag([0.1, 0.1, 0.1, 1.0]))
    h = g.with_spacing((None, None, 0.15))
    assert h.shape == (512, 512, 200)
    np.testing.assert_allclose(h.spacing, [0.1, 0.1, 0.15], rtol=0, atol=1e-15)
    np.testing.assert_allclose(h.fov_corners(), g.fov_corners(), atol=1e-12)


def test_oblique_seed_example_spacing_is_not_the_diagonal() -> None:
    a = np.array([
        [-0.01045284, 0.0, 0.09945219, -2.93459034],
        [0.0, -0.1, 0.0, 8.0],
        [0.09945219, 0.0, 0.01045284, -5.08460236],
        [0.0, 0.0, 0.0, 1.0],
    ])
    g = Grid((10, 10, 10), a)
    np.testing.assert_allclose(g.spacing, 0.1, rtol=1e-6)
    assert g.obliquity.max() == pytest.approx(6.0, abs=0.01)


def test_obliquity_and_axcodes_match_nibabel() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        a = np.eye(4)
        a[:3, :3] = random_rotation(rng) * rng.uniform(0.5, 3, 3)
        g = Grid((4, 5, 6), a)
        assert g.axcodes == nib.aff2axcodes(a)
        np.testing.assert_allclose(np.radians(g.obliquity), nib.affines.obliquity(a), atol=1e-9)


def test_voxel_map_identity_and_inverse() -> None:
    rng = np.random.default_rng(2)
    a = np.eye(4)
    a[:3, :3] = random_rotation(rng) * 2
    g = Grid((3, 4, 5), a)
    np.testing.assert_allclose(voxel_map(g, g), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(voxel_sizes(a), 2.0)


@pytest.mark.parametrize(
    "spacing",
    [0, -1, float("nan"), float("inf"), (1, 2), "abc", (1, None, 0)],
)
def test_bad_spacing_is_refused(spacing: object) -> None:
    g = Grid((10, 10, 10), np.eye(4))
    with pytest.raises(GridError, match="spacing"):
        g.with_spacing(spacing)  # type: ignore[arg-type]


def test_absurd_output_is_refused() -> None:
    g = Grid((10, 10, 10), np.eye(4))
    with pytest.raises(GridError, match="exceeds"):
        g.with_spacing((1e-9, 1, 1))


@pytest.mark.parametrize(
    "shape, affine, match",
    [
        ((0, 1, 1), np.eye(4), "at least 1 voxel"),
        ((1, 2), np.eye(4), "three positive integers"),
        ((1.5, 2, 2), np.eye(4), "three positive integers"),
        ((2, 2, 2), np.diag([1.0, 0.0, 1.0, 1.0]), "all zero"),
        ((2, 2, 2), np.full((4, 4), np.nan), "NaN"),
        ((2, 2, 2), np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]), "singular"),
        ((2, 2, 2), np.eye(3), r"shape \(4, 4\)"),
    ],
)
def test_bad_grids_are_refused(shape: object, affine: np.ndarray, match: str) -> None:
    with pytest.raises(GridError, match=match):
        Grid(shape, affine)  # type: ignore[arg-type]


def test_grid_is_frozen_and_hashable() -> None:
    g = Grid((2, 3, 4), np.eye(4))
    with pytest.raises(ValueError):
        g.affine[0, 0] = 5
    assert g == Grid((2, 3, 4), np.eye(4))
    assert len({g, Grid((2, 3, 4), np.eye(4))}) == 1
