"""Plain option values without pydantic (issue 12 item 1: a small run under 0.5 s).

Typer (0.29) coerces every command-line value, given or defaulted, through a
pydantic ``TypeAdapter`` built per parameter on each run: importing pydantic and
building about 40 adapters costs 0.09-0.12 s of a 0.5 s small-file run, for values
that are plain paths, strings, numbers, flags and enum choices.

:func:`install` wraps typer's ``build_runtime_param`` so that those simple values
take the direct conversion typer's own validators end in (``coerce_cli_path``,
``coerce_cli_choice``, ``int``/``float`` of a plain decimal literal, a min/max
check).  Anything else (a value that does not convert plainly, a number out of
range, a custom parser, ``Literal``/``datetime`` annotations, a clamp) goes to
typer's own adapter, which then gives typer's own result or error message, so the
behaviour is typer's exactly (``tests/test_typer_fast.py`` compares both on every
parameter of every command).  If typer's internals are not what this module
expects, nothing is installed and typer runs as it ships.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

__all__ = ["install"]

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")

Leaf = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> value; raises _Fallback


class _Fallback(Exception):
    """The value is not plain: let typer's adapter decide."""


def _number(kind: type, info: Any) -> Leaf | None:
    if info.clamp:
        return None
    pattern = _INT if kind is int else _FLOAT

    def leaf(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, bool):
            raise _Fallback
        number = isinstance(value, (int, float)) and (kind is float or isinstance(value, int))
        if not (number or (isinstance(value, str) and pattern.fullmatch(value))):
            raise _Fallback
        out = kind(value)
        if (info.min is not None and out < info.min) or (info.max is not None and out > info.max):
            raise _Fallback
        return out

    return leaf


def _leaf(annotation: Any, info: Any) -> Leaf | None:
    from typer._param_types import coerce_cli_choice, coerce_cli_path, routes_to_path

    if info.parser is not None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = list(annotation)

        def choice(value: Any, param: Any, ctx: Any) -> Any:
            return coerce_cli_choice(value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx)

        return choice
    if annotation is bool:
        def flag(value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, bool):
                return value
            raise _Fallback

        return flag
    if annotation is int or annotation is float:
        return _number(annotation, info)
    if annotation is str:
        def text(value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, str):
                return value
            raise _Fallback

        return text
    if get_origin(annotation) is None and routes_to_path(annotation, info):
        path_type = info.path_type
        if path_type is None and isinstance(annotation, type) and issubclass(annotation, Path):
            path_type = annotation

        def path(value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, str) and value and path_type is not None and issubclass(path_type, Path):
                value = path_type(value)  # what pydantic's Path adapter makes of a non-empty str
            return coerce_cli_path(value, info, path_type=path_type, param=param, ctx=ctx)

        return path
    return None


def _plan(annotation: Any, info: Any) -> Leaf | None:
    """A converter for ``annotation`` (lists and tuples of simple leaves too), or None."""
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        one = _leaf(item, info)
        if one is None:
            return None

        def many(value: Any, param: Any, ctx: Any) -> Any:
            items = value if isinstance(value, (list, tuple)) else [value]
            return [one(v, param, ctx) for v in items]

        return many
    if origin is tuple:
        leaves = [_leaf(t, info) for t in get_args(annotation)]
        if not leaves or any(f is None for f in leaves):
            return None
        ready = [f for f in leaves if f is not None]

        def fixed(value: Any, param: Any, ctx: Any) -> Any:
            if not isinstance(value, (list, tuple)) or len(value) != len(ready):
                raise _Fallback
            return tuple(f(v, param, ctx) for f, v in zip(ready, value, strict=True))

        return fixed
    return _leaf(annotation, info)


def install() -> bool:
    """Route simple values around typer's pydantic adapters; True if installed."""
    try:
        from typer import core as typer_core
        from typer._coercion import RuntimeParam
    except ImportError:  # another typer: leave it alone
        return False
    found = getattr(typer_core, "build_runtime_param", None)
    if found is None or getattr(found, "_niresample_fast", False):
        return found is not None
    original: Callable[[Any], Any] = found

    @dataclass(frozen=True)
    class FastRuntimeParam(RuntimeParam):  # type: ignore[misc]
        convert: Leaf
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value, param, ctx)
            except Exception:  # typer's adapter gives the result or the error, as it would have
                return original(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        convert = None
        if descriptor.file_annotation is None:
            convert = _plan(descriptor.annotation, descriptor.parameter_info)
        if convert is None:
            return original(descriptor)
        return FastRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                convert=convert, descriptor=descriptor)

    build_runtime_param._niresample_fast = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build_runtime_param
    return True
