"""Errors kerfer raises for bad input. Free of TensorFlow (the edge runtime imports this)."""

from __future__ import annotations

from typing import NamedTuple


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the line and the problem."""


class KerferWarning(UserWarning):
    """A warning meant for the user (a model without a labels file, skipped CSV rows): the CLI
    prints it as one line, ``kerfer: warning: ...``, without the line of source Python adds."""


class BadRow(NamedTuple):
    """A row dropped with ``on_bad_row="skip"``."""

    line: int
    problem: str
