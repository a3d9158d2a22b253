"""Click options generated from a config dataclass (and ``train``'s and the data options built so): one flag per field, with the field's type,
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


def with_options(fn: Callable, decorators: list) -> Callable:
    """``fn`` with the options (or option groups) ``decorators``, listed in that order in --help."""
    for decorate in reversed(decorators):
        fn = decorate(fn)
    return fn


def data_options(must_exist: bool = True, purpose: str = ""):
    """``--csv``, ``--data`` and ``--no-cache``: the data a command reads (train, evaluate, export);
    their help is TrainConfig's, the one source. ``must_exist``: click checks the paths first."""
    from kerfer.config import TrainConfig

    help_of = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}
    exists = {"exists": True} if must_exist else {}
    options = [
        click.option("--csv", "csv_path", type=click.Path(dir_okay=False, **exists), help=help_of["csv"] + purpose),
        click.option("--data", "data_dir", type=click.Path(file_okay=False, **exists), help=help_of["data"]),
        click.option(
            "--no-cache",
            "no_cache",
            is_flag=True,
            default=None,
            help="Parse the CSV afresh and do not keep it in the per-user cache (~/.cache/kerfer, or $KERFER_CACHE_DIR).",
        ),
    ]
    return lambda fn: with_options(fn, options)


TRAIN_BY_HAND = ("csv", "data", "parse_cache", "classes", "class_weight_power")
"""TrainConfig fields whose flags are written by hand: the conveniences, and the data options."""


def _class_weight_power(ctx, param, value: str | None) -> float | None:
    from kerfer.config import CLASS_WEIGHT_NAMES

    if value is None or value in CLASS_WEIGHT_NAMES:
        return CLASS_WEIGHT_NAMES.get(value)
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"use {', '.join(CLASS_WEIGHT_NAMES)} or a power such as 0.5", ctx, param) from None


def train_options(fn):
    """``train``'s options: one per TrainConfig field, generated from it, and the conveniences."""
    from kerfer.config import TrainConfig, range_text

    fn = config_options(TrainConfig, skip=TRAIN_BY_HAND, range_text=range_text)(fn)
    return with_options(
        fn,
        [
            data_options(must_exist=False),
            click.option(
                "--config",
                "config_file",
                type=click.Path(exists=True, dir_okay=False),
                help="JSON config (e.g. configs/default.json); flags given here override it.",
            ),
            click.option(
                "--classes",
                callback=lambda ctx, param, v: [c.strip() for c in v.split(",") if c.strip()] if v else None,
                help="Comma-separated subset, e.g. angry,happy,sad,surprise (the 4-class model).",
            ),
            click.option(
                "--class-weights",
                "class_weight_power",
                callback=_class_weight_power,
                help="none | sqrt | balanced | a power (0..1). Lifts rare classes. Default: none.",
            ),
            click.option(
                "--no-augment", is_flag=True, default=None, help="Turn off flip/shift/rotate/zoom/brightness/contrast."
            ),
        ],
    )


def train_overrides(params: dict[str, Any], no_cache: bool | None, no_augment: bool | None) -> dict[str, Any]:
    """The TrainConfig fields ``train``'s command line set, its conveniences (``--no-cache``,
    ``--no-augment``) turned into the fields they mean."""
    from kerfer.config import TrainConfig
    from kerfer.errors import OptionError

    overrides = given_values(TrainConfig, params)
    if no_cache:
        overrides["parse_cache"] = False
    if no_augment:
        if "augment" in overrides:
            raise OptionError(None, "--no-augment turns augmentation off: --augment-option has nothing to change")
        overrides["augment"] = None
    return overrides


def typed_command(ctx: click.Context) -> str:
    """The command as it was given (the options typed, in their canonical spelling), for the report
    to say what made it; built from click's parse, so it is right however kerfer was started."""
    import shlex

    words = ["kerfer", ctx.info_name or ""]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            words += [str(v) for v in (value if isinstance(value, (tuple, list)) else [value])]
        elif getattr(param, "is_flag", False):
            flag = param.opts[0] if value else (param.secondary_opts or param.opts)[0]
            words.append(flag)
        else:
            words += [param.opts[0], str(value)]
    return " ".join(shlex.quote(w) for w in words)
