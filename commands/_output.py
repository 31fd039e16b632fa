"""Output options shared by spacing, size and labels (Zarr, dask, disk guards)."""

from __future__ import annotations

from typing import Any

__all__ = ["output_options", "fmt_triple"]


def output_options(
    *, chunks: str | None, pyramid: int, resume: bool, scheduler: str | None, force: bool,
    threads: int | None, max_output: str | None, max_memory: str | None,
) -> dict[str, Any]:
    """The keyword arguments core.stream.write_output takes beyond the image.

    Only the options the user set are passed, so the writers' defaults apply.
    """
    # max_memory sizes the Zarr chunk rows too (NIfTI outputs ignore it there).
    options: dict[str, Any] = {"force": force, "max_output": max_output, "max_memory": max_memory}
    if threads is not None:
        options["jobs"] = threads
    zarr_only = {"chunks": chunks, "pyramid": pyramid or None, "resume": resume or None,
                 "scheduler": scheduler}
    options.update({k: v for k, v in zarr_only.items() if v is not None})
    return options


def fmt_triple(values: Any) -> str:
    """``'66x82x50'`` / ``'1x1x1'``: the per-file report's shapes and spacings."""
    return "x".join(f"{float(v):.6g}" for v in values)
