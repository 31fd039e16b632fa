"""``--help`` without type noise: no ``<bool>`` after a flag, no ``<list[Path]>`` after
an argument, no ``{A} {B}`` in the usage line.

Typer (0.15 and later) prints a type column for every parameter; ours say what a value
is through metavars (``MM``, ``N``, ``SIZE``).  :func:`quiet_types` keeps the metavar,
drops the column for flags and arguments (the argument's name already shows), and
writes other types as plain words.  Older Typer versions lack these hooks and are left
as they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["quiet_types"]

#: Typer's type labels and the metavar shown instead.
_WORDS = {"float": "NUM", "int": "N", "int range": "N", "float range": "NUM", "str": "TEXT",
          "path": "PATH", "Path": "PATH"}


def quiet_types() -> None:
    """Patch Typer's help rendering once (idempotent)."""
    from typer import core

    option, argument = getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)
    if option is None or argument is None or getattr(option, "_niresample_quiet", False):
        return
    if not hasattr(option, "display_type_rich") or not hasattr(argument, "_usage_display_name"):
        return
    shown = option.display_type_rich

    def option_type(self: Any, ctx: Any) -> str | None:
        if self.metavar is not None:
            return str(self.metavar) or None
        if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False):
            return None
        text = shown(self, ctx)
        if text is None:
            return None
        bare = str(text).strip("<>").removesuffix("...")
        if bare.startswith("list[") and bare.endswith("]"):
            bare = bare[5:-1]
        return _WORDS.get(bare, bare)

    def argument_usage(self: Any) -> str:
        name = str(self.metavar or self.name).upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    option.display_type_rich = option_type
    argument.display_type_rich = lambda self, ctx: None
    argument._usage_display_name = argument_usage
    option._niresample_quiet = True
