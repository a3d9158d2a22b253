"""Direct tests of the NumPy fast parser and the parse cache: bytes in, arrays out, no tf.data.

Why: every other test of ``parse_canonical`` and ``cache.load``/``save`` goes through
``read_fer2013``, seconds each; these run in milliseconds, so mutation testing (which runs a
mutant's tests fastest first and stops at the first failure) can afford every mutant of
``data/fastparse.py`` and ``data/cache.py``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kerfer.data import cache
from kerfer.data.fastparse import HEADER, NUM_PIXELS, parse_canonical, read_bytes
from kerfer.errors import KerferWarning
from kerfer.labels import FER2013_SPLITS

RNG = np.random.default_rng(7)


def test_the_parser_and_the_cache_import_without_tensorflow():
    """``kerfer.data`` imports its tf.data names lazily: the NumPy-only modules start in a
    fraction of a second, and the package's names still resolve."""
    code = (
        "import sys, kerfer.data.fastparse, kerfer.data.cache, kerfer.data;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported';"
        "from kerfer.data import DataError, read_fer2013, make_dataset;"
        "assert read_fer2013.__module__ == 'kerfer.data.fer2013' and 'tensorflow' in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        import kerfer.data

        kerfer.data.nothing_here  # noqa: B018


def _rows(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images = RNG.integers(0, 256, size=(n, 48, 48, 1), dtype=np.uint8)
    images[0, 0, 0, 0], images[0, -1, -1, 0] = 255, 0  # the extremes, at a row's first and last pixel
    labels = np.arange(n, dtype=np.int32) % 7
    usage = np.arange(n, dtype=np.int8) % len(FER2013_SPLITS)
    return images, labels, usage


def _text(images, labels, usage) -> bytes:
    lines = [
        f"{label},{' '.join(map(str, image.ravel()))},{FER2013_SPLITS[u]}\n"
        for image, label, u in zip(images, labels, usage)
    ]
    return HEADER + "".join(lines).encode()


def _pixels(values) -> str:
    return " ".join(map(str, values))


def _one(label="3", pixels=None, usage="Training") -> bytes:
    pixels = _pixels([1] * NUM_PIXELS) if pixels is None else pixels
    return HEADER + f"{label},{pixels},{usage}\n".encode()


def test_canonical_bytes_give_the_exact_arrays_dtypes_and_order():
    images, labels, usage = _rows(9)
    got = parse_canonical(_text(images, labels, usage))
    assert got is not None
    out_images, out_labels, out_usage = got
    assert out_images.dtype == np.uint8 and out_images.shape == (9, 48, 48, 1)
    assert out_labels.dtype == np.int32 and out_usage.dtype == np.int8
    assert np.array_equal(out_images, images)
    assert np.array_equal(out_labels, labels) and np.array_equal(out_usage, usage)


def test_every_label_and_every_split_name_is_read_as_its_index():
    for label in range(7):
        for u, name in enumerate(FER2013_SPLITS):
            _, labels, usage = parse_canonical(_one(str(label), usage=name))
            assert labels.tolist() == [label] and usage.tolist() == [u]


def test_a_bom_and_a_missing_last_newline_are_accepted():
    images, labels, usage = _rows(2)
    raw = _text(images, labels, usage)
    for variant in (b"\xef\xbb\xbf" + raw, raw.rstrip(b"\n")):
        got = parse_canonical(variant)
        assert got is not None and np.array_equal(got[0], images) and np.array_equal(got[1], labels)


def test_three_digit_tokens_at_either_end_of_the_text_are_accepted():
    values = [255] + [7] * (NUM_PIXELS - 2) + [100]
    images, _, _ = parse_canonical(_one(pixels=_pixels(values)))
    assert images.ravel().tolist() == values


@pytest.mark.parametrize(
    "raw",
    [
        HEADER,  # a header and no rows
        b"",
        b"emotion,pixels,usage\n" + _one()[len(HEADER) :],  # the header's case
        b"emotion,pixels\n" + _one()[len(HEADER) :],
        b"\xef\xbb" + _one(),  # half a BOM
        _one().replace(b"\n", b"\r\n"),
        _one().replace(b"\n", b"\r"),
        _one(usage='"Training"'),
        _one() + b"\n",  # a blank line at the end
        HEADER + b"\n" + _one()[len(HEADER) :],  # a blank line first
        _one(label="7"),
        _one(label="/"),  # the byte before b"0"
        _one(label=":"),  # the byte after b"9"
        _one(label="03"),
        _one(label=""),
        _one(usage="Validation"),
        _one(usage="training"),
        _one(usage=""),
        _one()[:-1] + b",\n",  # a fourth field
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1))),
        _one(pixels=_pixels([1] * (NUM_PIXELS + 1))),
        _one(pixels=" " + _pixels([1] * (NUM_PIXELS - 1))),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " "),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 2)) + "  1"),  # a double space: one token short
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " 256"),
        _one(pixels="999 " + _pixels([1] * (NUM_PIXELS - 1))),
        _one(pixels="0255 " + _pixels([1] * (NUM_PIXELS - 1))),  # four digits, value in range
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " 0000"),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " 1a"),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " /"),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " 1:"),  # b":" follows b"9"; NumPy would stop at it
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " 1/"),  # b"/" precedes b"0"
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + " -1"),
        _one(pixels=_pixels([1] * (NUM_PIXELS - 1)) + "\t1"),
    ],
)
def test_anything_off_the_canonical_layout_is_declined(raw):
    assert parse_canonical(raw) is None


def test_one_bad_row_among_good_ones_declines_the_whole_file():
    images, labels, usage = _rows(4)
    good = _text(images, labels, usage)
    assert parse_canonical(good) is not None
    lines = good.split(b"\n")
    lines[3] = b"9" + lines[3][1:]
    assert parse_canonical(b"\n".join(lines)) is None


@pytest.mark.parametrize("where", ["leading", "trailing", "both"])
def test_a_stray_space_in_one_row_of_many_is_caught_by_the_token_count(where):
    """Rows are joined with a space before one parse: a row's stray space must not hide there."""
    images, labels, usage = _rows(3)
    lines = _text(images, labels, usage).split(b"\n")
    label, pixels, split = lines[2].split(b",")
    short = pixels.split(b" ", 1)[1]  # one token fewer, so the space count stays 2,303 with a stray one
    short = {"leading": b" " + short, "trailing": short + b" ", "both": b" " + short[: short.rfind(b" ")] + b" "}
    lines[2] = b",".join([label, short[where], split])
    assert short[where].count(b" ") == NUM_PIXELS - 1
    assert parse_canonical(b"\n".join(lines)) is None


def test_read_bytes_gunzips_and_returns_none_for_a_broken_gzip(tmp_path):
    images, labels, usage = _rows(2)
    raw = _text(images, labels, usage)
    plain, packed, cut, junk = (tmp_path / n for n in ("a.csv", "a.csv.gz", "cut.csv.gz", "junk.csv.gz"))
    plain.write_bytes(raw)
    packed.write_bytes(gzip.compress(raw))
    cut.write_bytes(gzip.compress(raw)[:-12])
    junk.write_bytes(b"\x1f\x8b" + b"not a gzip stream at all")
    assert read_bytes(str(plain)) == raw
    assert read_bytes(str(packed)) == raw
    assert read_bytes(str(cut)) is None and read_bytes(str(junk)) is None
    odd = tmp_path / "odd.csv"
    odd.write_bytes(b"\x1f" + raw)  # half the gzip magic is plain bytes
    assert read_bytes(str(odd)) == b"\x1f" + raw


# --- the parse cache -------------------------------------------------------------------------


def _arrays(n: int = 3) -> dict[str, np.ndarray]:
    images, labels, usage = _rows(n)
    return {
        "images": images,
        "labels": labels,
        "usage": usage,
        "rows": np.arange(n, dtype=np.int64),
        "lines": np.arange(2, n + 2, dtype=np.int64),
    }


@pytest.fixture
def csv(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "f.csv"
    path.write_bytes(b"emotion,pixels,Usage\n0,1 2,Training\n")
    return path


def test_save_then_load_gives_the_arrays_and_the_skipped_rows_back(csv):
    arrays = _arrays()
    assert cache.save(csv, arrays, [(7, "a bad row"), (9, "another")]) is True
    entry = cache.entry_path(csv)
    assert entry.parent == csv.parent / "cache" and entry.exists()
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary file left behind
    got, skipped = cache.load(csv)
    assert skipped == [(7, "a bad row"), (9, "another")]
    assert all(type(line) is int and type(problem) is str for line, problem in skipped)
    assert sorted(got) == sorted(arrays)
    for name, array in arrays.items():
        assert got[name].dtype == array.dtype and np.array_equal(got[name], array), name


def test_an_entry_is_one_zip_of_the_arrays_and_readable_metadata(csv):
    arrays = _arrays()
    cache.save(csv, arrays, [])
    with zipfile.ZipFile(cache.entry_path(csv)) as z:
        assert sorted(z.namelist()) == sorted(f"{n}.npy" for n in (*cache._ARRAYS, "meta"))
    with np.load(cache.entry_path(csv)) as z:
        meta = json.loads(bytes(z["meta"]).decode())
    assert meta == {"fingerprint": cache.fingerprint(csv), "crc": cache._crc(arrays), "skipped": []}


def test_load_is_none_without_an_entry_or_after_the_file_changes(csv):
    assert cache.load(csv) is None
    cache.save(csv, _arrays(), [])
    assert cache.load(csv) is not None
    csv.write_bytes(csv.read_bytes().replace(b"0,", b"1,"))  # same size, other content
    assert cache.load(csv) is None


def test_load_is_none_when_the_arrays_do_not_match_the_stored_crc(csv):
    arrays = _arrays()
    cache.save(csv, arrays, [])
    entry = cache.entry_path(csv)
    with np.load(entry) as z:
        stored = {name: z[name] for name in z.files}
    for name in cache._ARRAYS:  # a change in any one array is caught
        changed = dict(stored)
        changed[name] = stored[name].copy()
        changed[name].flat[-1] ^= 1
        np.savez(entry, **changed)
        assert cache.load(csv) is None, name
    meta = json.loads(bytes(stored["meta"]).decode())
    del meta["crc"]
    np.savez(entry, **{**stored, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    assert cache.load(csv) is None


@pytest.mark.parametrize("skipped", [None, 3, [[1]], [[1, "a", "b"]], [["one", "bad"]], "drop"])
def test_an_entry_without_a_readable_skipped_list_is_not_ours_and_reparsed(csv, skipped):
    """Its rows' warnings would be lost: an entry that cannot say which rows it skipped is stale."""
    cache.save(csv, _arrays(), [(3, "bad label")])
    entry = cache.entry_path(csv)
    with np.load(entry) as z:
        stored = {name: z[name] for name in z.files}
    meta = json.loads(bytes(stored["meta"]).decode())
    assert cache.load(csv)[1] == [(3, "bad label")]
    if skipped == "drop":
        del meta["skipped"]
    else:
        meta["skipped"] = skipped
    np.savez(entry, **{**stored, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    assert cache.load(csv) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: entry.write_bytes(b"not an npz at all"),
        lambda entry: entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2]),
        lambda entry: entry.write_bytes(b""),
        lambda entry: np.savez(entry, meta=np.frombuffer(b"\xff\xfe", np.uint8)),  # not UTF-8
        lambda entry: np.savez(entry, meta=np.frombuffer(b"{not json", np.uint8)),
        lambda entry: np.savez(entry, images=np.zeros(3)),  # no metadata
    ],
    ids=["junk", "half", "empty", "not-utf8", "not-json", "no-meta"],
)
def test_a_damaged_entry_is_ignored(csv, damage):
    cache.save(csv, _arrays(), [])
    damage(cache.entry_path(csv))
    assert cache.load(csv) is None


def test_an_entry_missing_an_array_is_ignored(csv):
    cache.save(csv, _arrays(), [])
    entry = cache.entry_path(csv)
    with np.load(entry) as z:
        stored = {name: z[name] for name in z.files if name != "lines"}
    np.savez(entry, **stored)
    assert cache.load(csv) is None


def test_an_unwritable_cache_warns_returns_false_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "f.csv"
    path.write_bytes(b"emotion,pixels,Usage\n")
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv("KERFER_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(KerferWarning, match=r"cannot write the parse cache in .*not-a-folder.*KERFER_CACHE_DIR"):
        assert cache.save(path, _arrays(), []) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "not-a-folder"]


def test_a_failed_rename_removes_the_temporary_file(csv, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache.os, "replace", refuse)
    with pytest.warns(KerferWarning, match="Permission denied"):
        assert cache.save(csv, _arrays(), []) is False
    assert list((csv.parent / "cache").iterdir()) == []


def test_the_entry_name_depends_on_the_absolute_path_only(tmp_path, monkeypatch):
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    a = cache.entry_path("a.csv")
    assert a == cache.entry_path(tmp_path / "a.csv") != cache.entry_path("b.csv")
    assert a.parent == tmp_path / "cache" and a.suffix == ".npz" and a.name.startswith("fer2013-")
    assert len(a.stem) == len("fer2013-") + 24


def test_cache_dir_prefers_kerfer_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERFER_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "kerfer"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty is unset
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "kerfer"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "kerfer"
    monkeypatch.setenv("KERFER_CACHE_DIR", "")
    assert cache.cache_dir() == tmp_path / "xdg" / "kerfer"
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


def test_enabled_follows_the_request_else_kerfer_no_cache(monkeypatch):
    monkeypatch.delenv("KERFER_NO_CACHE", raising=False)
    assert cache.enabled() is True
    for value in ("1", "true", "TRUE", "Yes", "on"):
        monkeypatch.setenv("KERFER_NO_CACHE", value)
        assert cache.enabled() is False, value
        assert cache.enabled(True) is True
    for value in ("0", "", "no", "off"):
        monkeypatch.setenv("KERFER_NO_CACHE", value)
        assert cache.enabled() is True, value
        assert cache.enabled(False) is False


def test_the_crc_covers_every_array_in_order():
    arrays = _arrays()
    base = cache._crc(arrays)
    assert base == cache._crc({k: v.copy() for k, v in arrays.items()})
    swapped = dict(arrays, rows=arrays["lines"], lines=arrays["rows"])
    assert cache._crc(swapped) != base
    strided = dict(arrays, images=np.asfortranarray(arrays["images"]))  # the same values, other layout
    assert cache._crc(strided) == base


def test_fingerprint_follows_the_content(csv):
    first = cache.fingerprint(csv)
    os.utime(csv, ns=(0, 0))
    assert cache.fingerprint(csv) == first  # the mtime is not part of it
    csv.write_bytes(csv.read_bytes() + b"1,3 4,PublicTest\n")
    changed = cache.fingerprint(csv)
    assert changed["size"] == first["size"] + 17 and changed["sha256"] != first["sha256"]


def test_a_missing_cache_folder_is_made_with_its_parents(tmp_path, monkeypatch):
    path = tmp_path / "f.csv"
    path.write_bytes(b"emotion,pixels,Usage\n")
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "not" / "yet" / "there"))
    assert cache.save(path, _arrays(), []) is True
    assert cache.load(path) is not None


def test_the_warning_names_the_folder_the_os_error_and_what_to_do(csv, monkeypatch):
    def refuse(src, dst):
        raise OSError("a message and no errno")  # no strerror: the error's own text is shown

    monkeypatch.setattr(cache.os, "replace", refuse)
    with pytest.warns(KerferWarning) as caught:
        cache.save(csv, _arrays(), [])
    assert str(caught[0].message) == (
        f"cannot write the parse cache in {csv.parent / 'cache'} (a message and no errno); parsing each time "
        "(set KERFER_CACHE_DIR to a writable folder, or --no-cache to silence this)"
    )


def test_the_warning_points_at_the_line_that_called_read_fer2013(tmp_path, monkeypatch):
    """A user sees their own line (``stacklevel``), not the cache's internals."""
    from kerfer.data.fer2013 import read_fer2013

    images, labels, usage = _rows(2)
    path = tmp_path / "f.csv"
    path.write_bytes(_text(images, labels, usage))
    (tmp_path / "file").write_bytes(b"")
    monkeypatch.setenv("KERFER_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with pytest.warns(KerferWarning, match="cannot write the parse cache") as caught:
        table = read_fer2013(path)  # the NumPy fast path: no tf.data
    assert np.array_equal(table.images, images)
    where = Path(caught[0].filename).resolve()
    assert Path(cache.__file__).resolve().parents[1] not in where.parents  # not inside the kerfer package
    # mutmut wraps each mutated function in a trampoline: one frame more, its own file
    assert where == Path(__file__).resolve() or where.name == "trampoline.py"


def test_fingerprint_is_format_absolute_path_size_and_sha256(tmp_path, monkeypatch):
    import hashlib

    from kerfer.data.cache import FORMAT, fingerprint

    (tmp_path / "a.csv").write_bytes(b"emotion,pixels,Usage\n")
    monkeypatch.chdir(tmp_path)
    assert fingerprint("a.csv") == {  # what an entry's metadata says about its CSV, readable as it is
        "format": FORMAT,
        "path": str(tmp_path / "a.csv"),
        "size": 21,
        "sha256": hashlib.sha256(b"emotion,pixels,Usage\n").hexdigest(),
    }
