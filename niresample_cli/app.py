"""The ``niresample`` Typer app: one registration block, one error mapping.

Only typer, rich and light modules are imported here, so ``niresample --help``
starts fast; numpy/scipy/nibabel load inside the commands, torch and
SimpleITK only where a command needs them.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from niresample_cli import __version__
from niresample_cli.console import error_line, state

__all__ = ["app", "main"]

_SETTINGS: dict[str, Any] = dict(
    name="niresample",
    help="Resample NIfTI images correctly, fast, and at any size.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app = typer.Typer(**_SETTINGS)


class Terminated(BaseException):
    """Raised on SIGTERM so that writers clean up like on Ctrl-C."""


def _cancel_writes() -> None:
    # Imported here: core.stream is loaded by then if anything is being written.
    stream = sys.modules.get("niresample_cli.core.stream")
    if stream is not None:
        stream.request_cancel()


def _on_sigterm(signum: int, frame: Any) -> None:
    _cancel_writes()
    raise Terminated()


def _on_sigint(signum: int, frame: Any) -> None:
    _cancel_writes()
    raise KeyboardInterrupt


def _version(value: bool) -> None:
    if value:
        typer.echo(f"niresample {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Resample NIfTI images correctly, fast, and at any size."""
    state.debug = debug


def _guarded(fn: Callable[..., Any], command: str | None = None) -> Callable[..., Any]:
    """Map niresample errors to one stderr line and an exit code (the one place).

    ``command`` chooses the table that turns Python parameter names into its flags
    (:mod:`niresample_cli.errors`).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from niresample_cli.core.errors import NiresampleError
        from niresample_cli.errors import _ordinary_os_error, exit_code, failure_message

        previous = previous_int = None
        stream = sys.modules.get("niresample_cli.core.stream")
        if stream is not None:  # a command run before in this process was cancelled
            stream.reset_cancel()
        previous_hup = None
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not SIG_IGN
                previous_int = signal.signal(signal.SIGINT, _on_sigint)
            # a closed terminal cleans up like SIGTERM (left alone under nohup)
            if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:
                previous_hup = signal.signal(signal.SIGHUP, _on_sigterm)
        except ValueError:  # not in the main thread
            pass
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except NiresampleError as err:
            if state.debug:
                raise
            error_line(failure_message(err, command))
            raise typer.Exit(exit_code(err)) from None
        except KeyboardInterrupt:
            error_line("interrupted; no partial output was left at the target")
            raise typer.Exit(130) from None
        except Terminated:
            error_line("terminated; no partial output was left at the target")
            raise typer.Exit(143) from None
        except BrokenPipeError:
            # stdout closed early (`niresample info --json ... | head -1`): stop
            # quietly like other Unix tools; point stdout at /dev/null so the
            # interpreter's final flush does not complain either.
            _silence_stdout()
            raise typer.Exit(141) from None
        except OSError as err:
            if state.debug:
                raise
            if not _ordinary_os_error(err):  # a bug: as below
                error_line(f"{failure_message(err, command)} (run with --debug for the traceback)")
                raise typer.Exit(1) from None
            error_line(failure_message(err, command))
            if err.filename is None:  # stdout failed (a full device): no second complaint at exit
                _silence_stdout()
            raise typer.Exit(1) from None
        except MemoryError:
            if state.debug:
                raise
            error_line(failure_message(MemoryError(), command))
            raise typer.Exit(1) from None
        except Exception as err:  # a bug: still one line unless --debug
            if state.debug:
                raise
            error_line(f"{failure_message(err, command)} (run with --debug for the traceback)")
            raise typer.Exit(1) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
            if previous_hup is not None:
                signal.signal(signal.SIGHUP, previous_hup)

    return wrapper


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real fd (tests): nothing to flush
        pass


def _register() -> None:
    from niresample_cli._help import quiet_types
    from niresample_cli._typer_fast import install

    install()  # plain option values without importing pydantic (issue 12 item 1)
    from niresample_cli.commands import compare, info, labels, size, spacing

    quiet_types()  # --help without <bool>/<list[Path]> noise (issue 16 item 10)

    app.command("spacing")(_guarded(spacing.run, "spacing"))
    app.command("size")(_guarded(size.run, "size"))
    app.command("labels")(_guarded(labels.run, "labels"))
    app.command("compare")(_guarded(compare.run, "compare"))
    app.command("info")(_guarded(info.run, "info"))


_register()


def _app_for(args: list[str]) -> typer.Typer:
    """The app that runs ``args``: when the first names a command, an app of that command
    alone (same settings, root callback and registered command), so that typer builds the
    parameters of one command instead of all five (about 25 ms of every run, issue 12);
    otherwise (root options, ``--help``, a typo) the whole app."""
    info = next((c for c in app.registered_commands if args and c.name == args[0]), None)
    if info is None:
        return app
    one = typer.Typer(**_SETTINGS)
    one.registered_callback = app.registered_callback
    one.registered_commands = [info]
    return one


def main() -> None:
    """Console-script entry point."""
    try:
        _app_for(sys.argv[1:])()
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)
