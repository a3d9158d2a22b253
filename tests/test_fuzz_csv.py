"""Property-based tests of the FER2013 CSV parser: every input ends in the exact values,
or in a DataError naming the right line (or a skip count), never a TensorFlow crash."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerfer.data import DataError, read_fer2013

EXAMPLES = 40
USAGES = ["Training", "PublicTest", "PrivateTest"]
BREAKS = [
    "count_short",
    "count_long",
    "token",
    "extra_col",
    "missing_col",
    "label",
    "usage",
    "huge",
    "negative",
    "empty_pixels",
    "float",
]


@st.composite
def rows(draw):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    label = int(rng.integers(0, 7))
    pixels = rng.integers(0, 256, 2304)
    usage = USAGES[int(rng.integers(0, 3))]
    broken = draw(st.one_of(st.none(), st.sampled_from(BREAKS)))
    quote = draw(st.booleans())
    tokens = [str(v) for v in pixels]
    lab, use = str(label), usage
    if broken == "count_short":
        tokens = tokens[: draw(st.integers(0, 2303))]
    elif broken == "count_long":
        tokens = tokens + ["7"] * draw(st.integers(1, 50))
    elif broken == "token":
        tokens[draw(st.integers(0, 2303))] = draw(st.sampled_from(["x", "1e3", "--", "½", "12a"]))
    elif broken == "label":
        lab = draw(st.sampled_from(["7", "-1", "99", "happy", ""]))
    elif broken == "usage":
        use = draw(st.sampled_from(["Validation", "training", "Test", ""]))
    elif broken == "huge":
        tokens[draw(st.integers(0, 2303))] = str(draw(st.integers(256, 10**30)))
    elif broken == "negative":
        tokens[draw(st.integers(0, 2303))] = "-3"
    elif broken == "empty_pixels":
        tokens = []
    elif broken == "float":
        tokens[0] = "1.5"
    pix = " ".join(tokens)
    fields = [lab, f'"{pix}"' if quote else pix, use]
    if broken == "extra_col":
        fields.append("extra")
    if broken == "missing_col":
        fields = fields[:2]
    return ",".join(fields), broken is None, label, pixels, usage


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(rows(), min_size=1, max_size=5),
    blank_after=st.lists(st.booleans(), min_size=5, max_size=5),
    crlf=st.booleans(),
    bom=st.booleans(),
    gz=st.booleans(),
)
def test_parser_gives_exact_values_or_names_the_line(tmp_path_factory, data, blank_after, crlf, bom, gz):
    import gzip

    nl = "\r\n" if crlf else "\n"
    lines = ["emotion,pixels,Usage"]
    line_of = []
    for (text, *_), blank in zip(data, blank_after):
        lines.append(text)
        line_of.append(len(lines))
        if blank:
            lines.append("")
    body = (("\ufeff" if bom else "") + nl.join(lines) + nl).encode()
    path = tmp_path_factory.mktemp("fuzz") / ("f.csv.gz" if gz else "f.csv")
    path.write_bytes(gzip.compress(body) if gz else body)

    good = [(d, line) for d, line in zip(data, line_of) if d[1]]
    bad_lines = [line for d, line in zip(data, line_of) if not d[1]]
    if not bad_lines:
        table = read_fer2013(path)
        np.testing.assert_array_equal(table.labels, [d[2] for d, _ in good])
        np.testing.assert_array_equal(table.images.reshape(len(good), -1), np.stack([d[3] for d, _ in good]))
        assert [USAGES[u] for u in table.usage] == [d[4] for d, _ in good]
        assert table.lines.tolist() == [line for _, line in good]
        return
    with pytest.raises(DataError, match=rf"f\.csv(\.gz)?, line {bad_lines[0]}: "):
        read_fer2013(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not good:
            with pytest.raises(DataError, match="no valid rows"):
                read_fer2013(path, on_bad_row="skip")
            return
        table = read_fer2013(path, on_bad_row="skip")
    assert [b.line for b in table.skipped] == bad_lines
    assert table.lines.tolist() == [line for _, line in good]
    np.testing.assert_array_equal(table.images.reshape(len(good), -1), np.stack([d[3] for d, _ in good]))
