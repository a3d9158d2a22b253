"""Click options generated from a config dataclass: one flag per field, with the field's type,
choices (a ``Literal``), default and help (its ``metadata["help"]``), so a knob added to the
dataclass is on the command line without a second copy of it.

Types map to flags this way: ``bool`` → ``--x/--no-x``; a ``Literal`` → a choice; ``int``,
``float``, ``str`` → a value (``none`` for a field that may be null); a ``dict`` or dataclass →
repeatable ``KEY=VALUE`` (values read as JSON where they parse); a field that takes a list →
repeatable. Every flag defaults to "not given": :func:`given_values` returns only the fields
the command line named, to lay over a config.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, Union

import click

NULL = object()
"""What ``none`` converts to (None itself means "flag not given")."""


class KeyValue(click.ParamType):
    """``KEY=VALUE`` → ``(key, value)``; ``-`` in the key reads as ``_``, the value as JSON where it parses."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        if "=" not in value:
            self.fail(f"expected KEY=VALUE, got '{value}'", param, ctx)
        key, text = value.split("=", 1)
        try:
            return key.strip().replace("-", "_"), json.loads(text)
        except json.JSONDecodeError:
            return key.strip().replace("-", "_"), text


class OrNone(click.ParamType):
    """``inner``'s values, or ``none`` (any case) for a field that may be null."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is NULL or (isinstance(value, str) and value.lower() == "none"):
            return NULL
        return self.inner.convert(value, param, ctx)


def _parts(hint: Any) -> list[Any]:
    """The members of a union (``X | None`` → ``[X, NoneType]``), else ``[hint]``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _default_text(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING or f.default is None or f.default is False:
        return ""
    value = f.default
    if value is True:
        value = "on"
    elif isinstance(value, float):
        value = f"{value:g}"
    return f" Default: {value}."


def _option(f: dataclasses.Field, hint: Any, range_text: Callable[[str], str | None]) -> Callable:
    """The click option of one field, named after it (``--lr`` sets ``learning_rate``)."""
    parts = [p for p in _parts(hint) if p is not type(None)]
    nullable = len(parts) < len(_parts(hint))
    flag = "--" + f.metadata.get("flag", f.name.replace("_", "-"))
    limits = range_text(f.name)
    help_text = f.metadata["help"] + (f" Range: {limits}." if limits else "") + _default_text(f)
    kind = parts[0]
    if kind is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", f.name, default=None, help=help_text)
    if typing.get_origin(kind) is dict or dataclasses.is_dataclass(kind):
        return click.option(flag, f.name, multiple=True, type=KeyValue(), help=help_text)
    if any(typing.get_origin(p) is list for p in parts):
        return click.option(flag, f.name, multiple=True, help=help_text)
    if f.metadata.get("file"):
        param_type: click.ParamType = click.Path(exists=True, dir_okay=False)
    elif typing.get_origin(kind) is Literal:
        param_type = click.Choice(typing.get_args(kind))
    else:
        param_type = {int: click.INT, float: click.FLOAT}.get(kind, click.STRING)
    if nullable and not f.metadata.get("file"):
        param_type = OrNone(param_type)
    return click.option(flag, f.name, type=param_type, help=help_text)


def config_options(
    cls: type, skip: Iterable[str] = (), range_text: Callable[[str], str | None] = lambda key: None
) -> Callable[[Callable], Callable]:
    """A decorator adding one option per field of dataclass ``cls`` (but ``skip``), in field order."""
    hints = typing.get_type_hints(cls)
    skipped = set(skip)
    options = [_option(f, hints[f.name], range_text) for f in dataclasses.fields(cls) if f.name not in skipped]

    def decorate(fn: Callable) -> Callable:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def given_values(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` that ``params`` (a command's parsed options) gave a value: repeated
    ``KEY=VALUE`` as one mapping, a repeated value as a list (one value alone where the field also
    takes a single one), ``none`` as None."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = params.get(f.name)
        if value is None or value == ():
            continue
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):
            value = dict(value)
        elif isinstance(value, tuple):
            single = any(p is str for p in _parts(hints[f.name]))
            value = value[0] if single and len(value) == 1 else list(value)
        out[f.name] = None if value is NULL else value
    return out
