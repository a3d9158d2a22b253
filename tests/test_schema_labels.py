"""``kerfer.schema`` (config type checks from annotations) and ``kerfer.labels`` (class names and
their aliases): pure functions, tested directly so that ``make mutate`` finds every mutant."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import pytest

from kerfer import labels
from kerfer.schema import build, check_fields, conforms, describe


@dataclasses.dataclass
class Inner:
    a: int = 1
    b: str = "x"


@dataclasses.dataclass
class Cfg:
    n: int = 1
    rate: float = 0.5
    name: str = "a"
    on: bool = False
    mode: Literal["x", "y", 3] = "x"
    maybe: int | None = None
    items: list[int] = dataclasses.field(default_factory=list)
    table: dict[str, float] = dataclasses.field(default_factory=dict)
    inner: Inner | None = None
    anything: Any = None


@pytest.mark.parametrize(
    "hint, text",
    [
        (type(None), "null"),
        (bool, "true or false"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (Literal["adamw", "sgd"], "one of adamw, sgd"),
        (int | None, "an integer or null"),
        (list[int], "a list of an integers"),
        (list[Any], "a list"),
        (dict[str, int], "an object {...}"),
        (Inner, "an object with keys a, b"),
        (bytes, "bytes"),
        ("Later", "Later"),  # a forward reference: no __name__, its own text
    ],
)
def test_describe_names_each_kind_of_hint(hint, text):
    assert describe(hint) == text


@pytest.mark.parametrize(
    "value, hint, ok",
    [
        (None, type(None), True),
        (0, type(None), False),
        (True, bool, True),
        (1, bool, False),
        (3, int, True),
        (True, int, False),
        (3.0, int, False),
        (3, float, True),
        (3.5, float, True),
        (False, float, False),
        ("3", float, False),
        ("s", str, True),
        (1, str, False),
        ("x", Literal["x", 3], True),
        (3, Literal["x", 3], True),
        (3.0, Literal["x", 3], False),  # equal, but not the same type
        (True, Literal[1], False),
        ("z", Literal["x", 3], False),
        (None, int | None, True),
        (2, int | None, True),
        ("2", int | None, False),
        ([1, 2], list[int], True),
        ((1, 2), list[int], True),
        ([1, "2"], list[int], False),
        ("12", list[int], False),
        ([], list[int], True),
        ({"a": 1.0}, dict[str, float], True),
        ({"a": "1"}, dict[str, float], False),
        ({1: 1.0}, dict[str, float], False),
        ([("a", 1.0)], dict[str, float], False),
        (object(), Any, True),
        (Inner(), Inner, True),
        ({"a": 1}, Inner, False),
        (1, "Later", True),  # a hint it cannot check (a forward reference) lets the value through
    ],
)
def test_conforms_as_json_would_give_values(value, hint, ok):
    assert conforms(value, hint) is ok


def test_check_fields_names_the_first_bad_key_and_what_it_accepts():
    check_fields(Cfg(items=[1, 2], table={"a": 1}, maybe=3, inner=Inner()))
    with pytest.raises(ValueError) as e:
        check_fields(Cfg(n="3", rate="x"), "config.json")
    assert str(e.value) == "config.json key 'n': got '3', expected an integer"
    with pytest.raises(ValueError, match=r"^config key 'mode': got 'q', expected one of x, y, 3$"):
        check_fields(Cfg(mode="q"))


def test_build_refuses_non_objects_and_unknown_keys_and_checks_types():
    assert build(Inner, {"a": 2}, "aug") == Inner(2, "x")
    with pytest.raises(ValueError, match=r"^aug: expected a JSON object \{\.\.\.\}, got list \[1, 2\]$"):
        build(Inner, [1, 2], "aug")
    with pytest.raises(ValueError, match=r"^aug: unknown keys c, d; allowed: a, b$"):
        build(Inner, {"d": 1, "c": 2, "a": 1}, "aug")
    with pytest.raises(ValueError, match=r"^aug key 'b': got 5, expected a string$"):
        build(Inner, {"b": 5}, "aug")


def test_class_names_and_aliases():
    assert labels.FER2013_CLASSES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert labels.FERPLUS_CLASSES[:3] == ("neutral", "happiness", "surprise") and len(labels.FERPLUS_CLASSES) == 8
    assert labels.FER2013_SPLITS == ("Training", "PublicTest", "PrivateTest") and labels.IMAGE_SIZE == 48
    # every FER+ emotion but contempt is a FER2013 class under its alias
    mapped = {labels.canonical_emotion(c) for c in labels.FERPLUS_CLASSES}
    assert mapped - set(labels.FER2013_CLASSES) == {"contempt"}
    assert labels.canonical_emotion("  Happiness ") == "happy"
    assert labels.canonical_emotion("SCARED") == "fear"
    assert labels.canonical_emotion("Contempt") == "contempt"  # unknown: lower-cased, kept
    assert set(labels.EMOTION_ALIASES.values()) <= set(labels.FER2013_CLASSES)
