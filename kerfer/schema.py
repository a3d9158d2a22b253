"""Type checks for config dataclasses, driven by their own annotations.

A JSON config is user input: ``"epochs": "3"`` or ``"augment": true`` must fail as one line
naming the key and what it accepts, not as a Python traceback deep inside training.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, Union


def describe(hint: Any) -> str:
    """A short human description of a type hint: ``an integer``, ``one of adamw, sgd``..."""
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(hint))
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return " or ".join(describe(a) for a in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return "a list" + ("" if item is Any else f" of {describe(item)}s")
    if origin is dict:
        return "an object {...}"
    if dataclasses.is_dataclass(hint):
        keys = ", ".join(f.name for f in dataclasses.fields(hint))
        return f"an object with keys {keys}"
    return getattr(hint, "__name__", str(hint))


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as JSON would give it) fits ``hint``; ints count as floats, bools as nothing else."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(hint))
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return any(conforms(value, a) for a in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, (list, tuple)) and all(conforms(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(conforms(k, key) and conforms(v, item) for k, v in value.items())
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def check_fields(obj: Any, where: str = "config") -> None:
    """Raises ``ValueError`` naming the first field of dataclass ``obj`` whose value does not fit its type."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not conforms(value, hints[f.name]):
            raise ValueError(f"{where} key '{f.name}': got {value!r}, expected {describe(hints[f.name])}")


def build(cls: type, d: Any, where: str) -> Any:
    """``cls(**d)`` for a JSON object, with one-line errors for a non-object and unknown keys."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a JSON object {{...}}, got {type(d).__name__} {d!r:.60}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)}; allowed: {', '.join(known)}")
    obj = cls(**d)
    check_fields(obj, where)
    return obj
