"""Keeps the TFLite runtime's native chatter off the terminal unless asked for: the names live in
:mod:`kerfer.console` (light to import, for the CLI) and are kept here for their callers."""

from __future__ import annotations

from kerfer.console import ENV, native_quiet, set_verbose, verbose

__all__ = ["ENV", "native_quiet", "set_verbose", "verbose"]
