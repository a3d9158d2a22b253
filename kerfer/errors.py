"""Every error kerfer raises, in one place. No imports beyond the standard library: the edge runtime
and the CLI's ``--help`` import this."""

from __future__ import annotations

from typing import NamedTuple


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the line and the problem."""


class ModelError(ValueError):
    """A model file that cannot be used (missing, truncated, wrong format, wrong labels)."""


class ImageReadError(ValueError):
    """An image file that cannot be read or decoded."""


class SameFileError(ValueError):
    """An output that is an input (or another output): refused before anything is written."""


class DamagedInstall(ValueError):
    """A shipped file whose bytes are not those kerfer shipped."""


class OptionError(ValueError):
    """Options that do not fit together (``--min-score`` for the Haar cascade, YuNet without its
    file). ``option`` is the parameter at fault (``"yunet_model"``), or None when it is the
    combination; the CLI shows it as a usage error on that flag (exit status 2)."""

    def __init__(self, option: str | None, message: str) -> None:
        super().__init__(f"{option}: {message}" if option else message)
        self.option = option
        self.message = message


class SourceError(RuntimeError):
    """A camera or stream that cannot be opened."""


class LockedError(OSError):
    """Another process holds the lock: refused at once, never waited for."""


class MissingTrainingKit(ModuleNotFoundError):
    """A feature needs a package of the training kit that this (runtime-only) install lacks."""


class KerferWarning(UserWarning):
    """A warning meant for the user (a model without a labels file, skipped CSV rows): the CLI
    prints it as one line, ``kerfer: warning: ...``, without the line of source Python adds."""


class BadRow(NamedTuple):
    """A row dropped with ``on_bad_row="skip"``."""

    line: int
    problem: str
