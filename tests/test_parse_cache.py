"""The NumPy fast parser (exactly the exact parser's result, or it declines) and the parse cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fakedata import make_images, split_usages, write_csv

import kerfer.data.fer2013 as fer
from kerfer.data import DataError, read_fer2013
from kerfer.data import cache as parse_cache
from kerfer.data.fastparse import parse_canonical

FIELDS = ("images", "labels", "usage", "rows", "lines")


def _csv(path, n=60, seed=0, gz=False, **kw):
    images, labels = make_images(n, seed=seed)
    return write_csv(path, images, labels, split_usages(n), gz=gz, **kw)


def _same(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


@pytest.mark.parametrize("gz", [False, True])
def test_fast_parser_gives_exactly_what_the_exact_parser_gives(tmp_path, gz):
    path = str(_csv(tmp_path / ("f.csv.gz" if gz else "f.csv"), gz=gz))
    raw = open(path, "rb").read()
    fast = read_fer2013(path, cache=False)
    header, is_gz = fer._read_header(path)
    arrays, skipped = fer._parse_exact(path, header, is_gz, "error", False)
    assert skipped == [] and parse_canonical(raw if not gz else __import__("gzip").decompress(raw)) is not None
    _same(fast, fer.Fer2013Table(path=path, **arrays))


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.replace("Training", '"Training"', 1),
        lambda t: t.replace("\n", "\n\n", 3),
        lambda t: t.replace(" ", "  ", 1),
        lambda t: t.replace(" 2", " 2000", 1),
        lambda t: t.replace(",Training", " ,Training", 1),
        lambda t: t.replace("\n0,", "\n7,", 1).replace("\n1,", "\n7,", 1),
        lambda t: t.replace("PublicTest", "Validation", 1),
        lambda t: t.replace(",Training", ",1,Training", 1),
        lambda t: t.replace("emotion,pixels,Usage", "pixels,emotion,Usage", 1),
    ],
    ids=[
        "crlf",
        "quotes",
        "blank-lines",
        "double-space",
        "4-digits",
        "trailing-space",
        "label-7",
        "usage",
        "4-fields",
        "order",
    ],
)
def test_fast_parser_declines_anything_irregular(tmp_path, change):
    text = _csv(tmp_path / "f.csv").read_text()
    changed = change(text)
    assert changed != text
    assert parse_canonical(changed.encode()) is None


def test_a_bom_and_a_missing_last_newline_are_still_canonical(tmp_path):
    text = _csv(tmp_path / "f.csv").read_text()
    assert parse_canonical(("\ufeff" + text).encode()) is not None
    assert parse_canonical(text.rstrip("\n").encode()) is not None


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv.gz", gz=True)
    first = read_fer2013(path)
    assert parse_cache.entry_path(path).exists()
    assert str(tmp_path / "cache") in str(parse_cache.entry_path(path))

    def no_parse(*a, **k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(fer, "_parse", no_parse)
    _same(read_fer2013(path), first)
    with pytest.raises(AssertionError, match="parsed again"):
        read_fer2013(path, cache=False)


def test_stale_cache_after_the_csv_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv", seed=0)
    a = read_fer2013(path)
    _csv(tmp_path / "f.csv", seed=1)  # same size and layout, other pixels and labels
    b = read_fer2013(path)
    assert not np.array_equal(a.images, b.images)
    _same(b, read_fer2013(path, cache=False))


def test_a_change_in_the_middle_with_the_mtime_restored_is_not_served_from_the_cache(tmp_path, monkeypatch):
    """`cp -p`, `rsync -a` and `tar` restore the mtime: 200 labels changed in the middle of a CSV
    came back from the cache (68.5 % where the file says 34.75 %), which checked only the size,
    the mtime and the first and last 64 KiB."""
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv", n=300)
    assert path.stat().st_size > 8 * 64 * 1024  # the middle rows lie far from both 64 KiB edges
    before = read_fer2013(path)
    st = path.stat()
    lines = path.read_text().splitlines(keepends=True)
    middle = range(120, 180)
    for i in middle:  # one digit for another: the same size
        lines[i] = str((int(lines[i][0]) + 1) % 7) + lines[i][1:]
    path.write_text("".join(lines))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    after = read_fer2013(path)
    rows = np.asarray(middle) - 1  # data row index of each changed line
    assert np.array_equal(after.labels[rows], (before.labels[rows] + 1) % 7)
    _same(after, read_fer2013(path, cache=False))


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv")
    good = read_fer2013(path)
    entry = parse_cache.entry_path(path)
    for damage in (b"not an npz at all", entry.read_bytes()[: entry.stat().st_size // 2]):
        entry.write_bytes(damage)
        assert parse_cache.load(path) is None
        _same(read_fer2013(path), good)
        assert parse_cache.load(path) is not None  # rewritten
    # Same file layout, one flipped pixel byte: the CRC catches it.
    data = bytearray(entry.read_bytes())
    i = data.index(good.images.tobytes()[:64]) + 10
    data[i] ^= 0x01
    entry.write_bytes(bytes(data))
    assert parse_cache.load(path) is None


def test_unwritable_cache_falls_back_to_parsing_and_says_so_once(tmp_path):
    # As root a read-only folder is still writable, so the cache "folder" is under a plain file.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = _csv(tmp_path / "f.csv")
    code = textwrap.dedent(
        f"""
        from kerfer.data import read_fer2013
        a = read_fer2013({str(path)!r}); b = read_fer2013({str(path)!r})
        print(len(a), len(b))
        """
    )
    env = {**os.environ, "KERFER_CACHE_DIR": str(blocker / "cache")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["60", "60"]
    assert r.stderr.count("cannot write the parse cache") == 1, r.stderr


def test_two_processes_load_the_same_file_at_once(tmp_path):
    path = _csv(tmp_path / "f.csv.gz", n=700, gz=True)
    env = {**os.environ, "KERFER_CACHE_DIR": str(tmp_path / "cache")}
    code = f"from kerfer.data import read_fer2013; t = read_fer2013({str(path)!r}); print(int(t.images.sum()), len(t))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1000:] for o in outs]
    assert outs[0][0] == outs[1][0]
    os.environ["KERFER_CACHE_DIR"], old = str(tmp_path / "cache"), os.environ["KERFER_CACHE_DIR"]
    try:
        arrays, skipped = parse_cache.load(path)
    finally:
        os.environ["KERFER_CACHE_DIR"] = old
    assert int(arrays["images"].sum()) == int(outs[0][0].split()[0]) and skipped == []
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")]


def test_skipped_rows_are_cached_and_error_mode_still_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv", extra_lines=[(3, "9,1 2 3,Training")])
    with pytest.warns(UserWarning, match="skipped 1 bad rows"):
        skipped = read_fer2013(path, on_bad_row="skip")
    assert parse_cache.load(path) is not None
    with pytest.raises(DataError, match=r"f\.csv, line 5: emotion label '9' is not an integer 0\.\.6"):
        read_fer2013(path)
    with pytest.warns(UserWarning, match="skipped 1 bad rows"):
        _same(read_fer2013(path, on_bad_row="skip"), skipped)


def test_no_cache_flag_writes_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kerfer.cli import main

    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = _csv(tmp_path / "f.csv", n=70)
    r = CliRunner().invoke(main, ["evaluate", "--csv", str(path), "--no-cache"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "cache").exists()
    monkeypatch.setenv("KERFER_NO_CACHE", "1")
    read_fer2013(path)
    assert not (tmp_path / "cache").exists()
