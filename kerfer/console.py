"""What reaches the user's terminal: kerfer's own lines, not the libraries' chatter.

Native code writes straight to file descriptor 2, where Python's ``sys.stderr`` cannot catch
it: TensorFlow's start (the absl banner, printed twice, and ``E0000 ... failed call to cuInit``
on a machine without a GPU), LiteRT's ``INFO: Created TensorFlow Lite XNNPACK delegate``,
libpng's ``iCCP`` warnings, FFmpeg's decoder complaints. Python warnings print a line of source
code under their message. A ``kerfer`` command therefore runs inside :func:`quiet_command`:
fd 2 points at ``/dev/null`` while Python's own stderr (errors, progress, kerfer's warnings)
still reaches the terminal, kerfer's warnings (:class:`~kerfer.errors.KerferWarning`) print as
one line each and other libraries' warnings are hidden. ``kerfer -v`` (or ``KERFER_VERBOSE=1``)
shows everything. No imports beyond the standard library: ``kerfer --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator

ENV = "KERFER_VERBOSE"


def verbose() -> bool:
    """True when native log lines should be shown (``-v`` sets ``KERFER_VERBOSE=1``)."""
    return os.environ.get(ENV, "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Turns native log lines on or off for this process (and the TF/absl log level with them)."""
    os.environ[ENV] = "1" if on else "0"
    if not on:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Silences native writes to fd 2 inside the block, unless verbose. Process-wide while it lasts."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded hosts): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def quiet_command() -> Iterator[None]:
    """For a whole command, unless verbose: native lines hidden, Python's stderr kept, warnings
    one line (kerfer's) or none (other libraries')."""
    if verbose():
        yield
        return
    with _one_line_warnings(), _native_stderr_hidden():
        yield


def _is_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _native_stderr_hidden() -> Iterator[None]:
    """fd 2 → /dev/null; ``sys.stderr``, when it is fd 2, moves to a copy of the real stderr so
    that Python's own writes (click's errors, tracebacks) still show."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    before = sys.stderr
    moved = _is_fd2(before)
    if moved:
        sys.stderr = io.TextIOWrapper(
            io.FileIO(saved, "w", closefd=False),
            encoding=before.encoding,
            errors=before.errors,
            line_buffering=True,
        )
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        if moved:
            sys.stderr = before  # `saved` stays open: a logging handler may still hold the copy
        else:
            os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    from kerfer.errors import KerferWarning

    shown_before = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, KerferWarning):
            print(f"kerfer: warning: {message}", file=sys.stderr, flush=True)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown_before


def user_error(e: BaseException, command: str) -> str | None:
    """The one line for an error a user can cause (bad data, a missing file or package, a native
    library the system lacks), or None for a bug, whose traceback should show. ``command``
    (``"kerfer train"``) goes in the install hint of a missing package."""
    from kerfer.errors import DataError
    from kerfer.kit import as_missing_kit
    from kerfer.syslibs import NATIVE_MODULES, missing_library_message

    if isinstance(e, ModuleNotFoundError):
        missing = as_missing_kit(e, command)
        return None if missing is None else str(missing)
    if isinstance(e, ImportError):  # a native library the system lacks (libGL, libxcb on Pi OS Lite)
        module = (e.name or "").split(".")[0]
        return missing_library_message(e, NATIVE_MODULES.get(module, module or "a native module"))
    if isinstance(e, (DataError, FileNotFoundError, FileExistsError, PermissionError, ValueError, RuntimeError)):
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
    return None
