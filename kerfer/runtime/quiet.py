"""Keeps the TFLite runtime's native chatter off the terminal unless asked for.

LiteRT's C++ code writes ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` (and
absl/TF log lines) straight to file descriptor 2, where Python's ``sys.stderr`` cannot catch
it. ``kerfer predict``/``live`` should print only their results, so the few native calls that
log (building an interpreter, allocating its tensors) run with fd 2 pointed at ``/dev/null``;
``kerfer -v`` (or ``KERFER_VERBOSE=1``) shows them. Python exceptions are unaffected.
"""

from __future__ import annotations

import contextlib
import os
import sys
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
