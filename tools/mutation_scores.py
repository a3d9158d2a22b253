"""Per-module mutation scores from the last ``mutmut run`` (``make mutate`` prints them).

    .venv/bin/python tools/mutation_scores.py

Reads ``mutmut results --all true``; a mutant listed in ``EQUIVALENT`` (it cannot change
behaviour: the reason beside it) is left out of the score. Score = killed / (killed +
survived), where killed counts mutants a test failed on or that ran past mutmut's timeout, and
"no tests" are mutants in functions that the selected tests never call (they count as survived).
Exits 1 when a module is under :data:`TARGET`.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys

TARGET = 0.85

EQUIVALENT: dict[str, str] = {
    "kerfer.runtime.cropping.xǁ_Cropperǁ_drop_stale__mutmut_2": "_place reuses only the latest row's output, which _Past.add put last in written (a name is never reused after another): break stops where the loop ends anyway",
    "kerfer.runtime.cropping.x__row__mutmut_9": "a row with src has a relative source (kerfer writes no other): relative_to fails on it and the row stays as read",
    "kerfer.runtime.cropping.x__hex__mutmut_4": "'xxxx' is not 64 hex digits either: the empty string, as for None",
    "kerfer.runtime.cropping.x__hex__mutmut_12": "after lower() no character is 'X': the same digits are accepted",
    "kerfer.runtime.cropping.xǁ_Journalǁ__init____mutmut_8": "no journal is one byte long: its header is one write of 87 bytes, flushed",
    "kerfer.runtime.cropping.x__ends_a_line__mutmut_13": "read(None) from the last byte reads that one byte",
    "kerfer.runtime.cropping.x__ends_a_line__mutmut_14": "read(2) from the last byte reads that one byte",
    "kerfer.runtime.cropping.x__check_settings__mutmut_5": "an empty string is no dict either: as None, the settings are rewritten",
    "kerfer.runtime.cropping.xǁ_Historyǁ__init____mutmut_7": "_Past.add sets row first: _Past(None).add(row) is _Past(row).add(row)",
    "kerfer.runtime.cropping.x__still_there__mutmut_3": "Path('') / source is Path(source)",
    "kerfer.runtime.cropping.x__inside_out__mutmut_3": "the resolve check below refuses the same paths out of OUT; inside it, _place's folder test and _owned's hash decide as before",
    "kerfer.runtime.cropping.x__inside_out__mutmut_4": "as _3: an absolute path also fails the resolve check",
    "kerfer.runtime.cropping.x__inside_out__mutmut_5": "as _3: an empty output resolves to OUT's parent, refused",
    "kerfer.runtime.cropping.x__inside_out__mutmut_7": "as _3",
    "kerfer.runtime.cropping.x__inside_out__mutmut_9": "on POSIX a backslash is a character of a name inside OUT (the check is for reports edited on Windows)",
    "kerfer.runtime.cropping.xǁ_Cropperǁphoto__mutmut_6": "an unreadable photo has no hash: None is falsy as the empty string",
    "kerfer.runtime.cropping.xǁ_Cropperǁphoto__mutmut_11": "'XXXX' is no 64-hex sha (_hex drops any other from a report), so no row matches it",
    "kerfer.runtime.cropping.xǁ_Cropperǁunreadable__mutmut_4": "as photo _6",
    "kerfer.runtime.cropping.xǁ_Cropperǁunreadable__mutmut_9": "as photo _11",
    "kerfer.runtime.cropping.xǁ_Cropperǁ_outcome__mutmut_117": "OpenCV reads the extension case-insensitively: .PNG encodes as .png",
    "kerfer.runtime.cropping.xǁ_Cropperǁ_place__mutmut_40": "_owned returns None for no hashes, None or empty",
    "kerfer.runtime.cropping.xǁ_Cropperǁ_place__mutmut_42": "as _40",
    "kerfer.runtime.cropping.x__crop_locked__mutmut_35": "journal rows always carry src (this version writes them), so src_abs is never used for them",
    "kerfer.runtime.cropping.x__crop_locked__mutmut_53": "None is falsy as False, and finished is set True before a successful run reads it",
    "kerfer.runtime.cropping.x__finish_report__mutmut_5": "the run's _Journal made the journal before the first photo: it is there to unlink",
    "kerfer.runtime.cropping.x__finish_report__mutmut_6": "as _5",
    "kerfer.data.cache.x_enabled__mutmut_9": "any default that is not a true value ('1', 'true', 'yes', 'on') leaves the cache on, as '' does",
    "kerfer.data.fastparse.x_parse_canonical__mutmut_90": "float64 holds every 1-3 digit integer exactly: the same uint8 after astype, only slower",
    "kerfer.data.fastparse.x_parse_canonical__mutmut_93": "as _90: fromstring's default dtype is float64",
    "kerfer.data.cache.x__crc__mutmut_2": "the start value need only match between save and load, which share _crc: another makes old entries stale (reparsed), never wrong",
    "kerfer.data.cache.x_load__mutmut_4": "allow_pickle=None is falsy, as False: np.load refuses pickles alike",
    "kerfer.data.cache.x_load__mutmut_6": "np.load's default is allow_pickle=False",
    "kerfer.evaluation.x_classification_report__mutmut_26": "astype(None) is astype(float64), as astype(float) is",
    "kerfer.evaluation.x__ratio__mutmut_10": "the placeholder divisor only meets rows that np.where then sets to 0",
    "kerfer.evaluation.x__ratio__mutmut_17": "every caller's numerator is 0 where its denominator is (tp <= predicted, 2pr = 0 when p + r = 0)",
    "kerfer.evaluation.xǁReportǁto_dict__mutmut_14": 'pandas reads orient case-insensitively: "INDEX" is "index"',
    "kerfer.runtime.track.xǁSmootherǁupdate__mutmut_32": "Track.track_id is never read; update returns the dict key",
    "kerfer.runtime.track.xǁSmootherǁupdate__mutmut_33": "the new track's box is set on the next line",
    "kerfer.runtime.roi.x__mouth_point__mutmut_7": "asarray(mouth, None) keeps the keypoint's dtype; every caller takes float() of it or subtracts a float64 midpoint, the same numbers",
    "kerfer.runtime.roi.x__mouth_point__mutmut_9": "as _7: asarray(mouth) without the dtype, the same numbers in every caller",
    "kerfer.runtime.roi.x__mouth_point__mutmut_25": "the other corner is still float64, so the sum is float64 as before",
    "kerfer.runtime.roi.x__mouth_point__mutmut_27": "as _25: one float64 operand makes the sum float64",
    "kerfer.runtime.roi.x__mouth_point__mutmut_30": "as _25, the other corner",
    "kerfer.runtime.roi.x__mouth_point__mutmut_32": "as _25, the other corner",
    "kerfer.runtime.roi.x__eye_geometry__mutmut_23": "keeps float32 keypoints float32: the eye midpoint rounds at float32 (under 1e-4 px at any frame size), integers are exact",
    "kerfer.runtime.roi.x__eye_geometry__mutmut_25": "as _23: asarray(e) without the dtype",
    "kerfer.runtime.detect.x_crop_faces__mutmut_62": "side == size: resizing to its own size copies the pixels whichever the interpolation",
    "kerfer.runtime.detect.x_crop_faces__mutmut_106": "outer == work: as _62, a resize to its own size",
    "kerfer.runtime.detect.x__square__mutmut_28": "a pad of 1 where none is needed shifts the window by the same 1 px: the same pixels",
    "kerfer.runtime.detect.x__square__mutmut_29": "more padding than needed (x0 > 0) is shifted away: the same window",
    "kerfer.runtime.detect.x__square__mutmut_31": "as _29: x1 + w pads more than x1 - w, shifted away",
    "kerfer.runtime.detect.x__square__mutmut_32": "as _29: y1 + h pads more than y1 - h, shifted away",
    "kerfer.runtime.images.x__decode__mutmut_16": "uint16 / 257 truncated by astype(uint8) is uint16 // 257: both are non-negative",
    "kerfer.runtime.images.x_as_frame__mutmut_30": "as x__decode__mutmut_16: / 257 then astype(uint8) truncates to // 257",
    "kerfer.runtime.images.x__decode__mutmut_34": "imdecode with ANYCOLOR never returns 4 channels (alpha is dropped): the BGRA branch is never taken",
    "kerfer.runtime.images.x__decode__mutmut_37": "as _34: no decoded image has 5 channels either",
    "kerfer.runtime.images.x__decode__mutmut_38": "inside the BGRA branch imdecode never reaches (_34)",
    "kerfer.runtime.images.x__decode__mutmut_39": "inside the BGRA branch imdecode never reaches (_34)",
    "kerfer.runtime.images.x__decode__mutmut_40": "inside the BGRA branch imdecode never reaches (_34)",
    "kerfer.runtime.images.x__decode__mutmut_41": "inside the BGRA branch imdecode never reaches (_34)",
    "kerfer.runtime.images.x__decode__mutmut_42": "inside the BGRA branch imdecode never reaches (_34)",
    "kerfer.runtime.images.x__decode__mutmut_45": "imdecode returns gray as (H, W), never (H, W, 1): the one-channel branch is never taken",
    "kerfer.runtime.images.x__decode__mutmut_48": "as _45: imdecode never returns 2 channels",
    "kerfer.runtime.images.x__decode__mutmut_49": "inside the one-channel branch imdecode never reaches (_45)",
    "kerfer.runtime.images.x__decode__mutmut_50": "inside the one-channel branch imdecode never reaches (_45)",
    "kerfer.runtime.images.x_write_image__mutmut_12": "OpenCV reads the extension case-insensitively: .PNG encodes as .png",
    "kerfer.runtime.detect.x_to_gray__mutmut_4": "cvtColor's BGRA2GRAY and BGR2GRAY both take 3 or 4 channels and weigh them alike",
    "kerfer.runtime.detect.x_to_gray__mutmut_5": "as _4: BGR2GRAY on a BGRA frame is BGRA2GRAY",
    "kerfer.runtime.detect.x__downscale__mutmut_2": "the frame is gray (to_gray), 2-D: shape[:3] is shape[:2]",
    "kerfer.runtime.detect.x__downscale__mutmut_10": "side == max_side: resized to its own size (a copy) at scale 1.0",
    "kerfer.runtime.detect.xǁYuNetDetectorǁdetect_faces__mutmut_33": "scale is 1 there: a resize to the frame's own size is a copy",
    "kerfer.runtime.detect.xǁYuNetDetectorǁdetect_faces__mutmut_42": "as _33, at scale == 1",
    "kerfer.runtime.detect.xǁYuNetDetectorǁdetect_faces__mutmut_43": "scale is min(1, ...): < 2 always holds, and at 1 the resize is a copy (_33)",
    "kerfer.runtime.detect.xǁYuNetDetectorǁdetect_faces__mutmut_82": "YuNet's rows are float32 already: asarray(f, None) is asarray(f, float32)",
    "kerfer.runtime.detect.xǁYuNetDetectorǁdetect_faces__mutmut_84": "as _82",
    "kerfer.runtime.detect.x_crop_faces__mutmut_138": "warpAffine's default flags are INTER_LINEAR",
    "kerfer.runtime.detect.x_crop_faces__mutmut_143": "as _138: flags left out is INTER_LINEAR",
    "kerfer.runtime.overlay.x_draw_face__mutmut_81": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_82": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_83": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_214": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_215": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_216": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_fps__mutmut_21": "OpenCV saturates a colour component of 256 to 255 on uint8 frames",
    "kerfer.runtime.overlay.x_draw_face__mutmut_24": "OpenCV reads a None font as 0, FONT_HERSHEY_SIMPLEX",
    "kerfer.runtime.overlay.x_draw_face__mutmut_59": "OpenCV reads a None font as 0, FONT_HERSHEY_SIMPLEX",
    "kerfer.runtime.overlay.x_draw_face__mutmut_194": "OpenCV reads a None font as 0, FONT_HERSHEY_SIMPLEX",
    "kerfer.runtime.overlay.x_draw_fps__mutmut_4": "OpenCV reads a None font as 0, FONT_HERSHEY_SIMPLEX",
    "kerfer.runtime.overlay.x_draw_face__mutmut_55": "any negative thickness fills the rectangle: -2 is -1",
    "kerfer.runtime.overlay.x_draw_face__mutmut_190": "any negative thickness fills the rectangle: -2 is -1",
    "kerfer.runtime.scan.x_class_images__mutmut_3": "recursive=None is falsy: _walk reads it only as `if recursive`, as False",
    "kerfer.runtime.scan.x_find_sources__mutmut_9": "recursive=None is falsy: _walk reads it only as `if recursive`, as False",
    "kerfer.runtime.scan.x_find_sources__mutmut_38": "recursive=None is falsy: _walk reads it only as `if recursive`, as False",
    "kerfer.runtime.scan.x__class_scans__mutmut_7": "recursive=None is falsy: _walk reads it only as `if recursive`, as False",
    "kerfer.runtime.scan.x__walk__mutmut_16": "is_dir(follow_symlinks=None) is follow_symlinks=False: the flag is read as a truth value",
    "kerfer.runtime.scan.x__ignored__mutmut_4": "hidden=None is falsy, read as `hidden or ...`: the same as False",
    "kerfer.runtime.scan.x__walk__mutmut_51": "folders were handled above (is_dir): a non-link reaching here is no folder, so `or` is `and`",
    "kerfer.runtime.scan.xǁScanǁskip__mutmut_9": "skipped_names past the third are never read (skipped_note shows 3 and counts the rest)",
    "kerfer.runtime.scan.xǁScanǁskip__mutmut_11": "as _9",
    "kerfer.runtime.scan.x_scan__mutmut_3": "skipped_paths is read only by _ignored, which asks for it: the default only saves memory",
    "kerfer.runtime.overlay.x_draw_face__mutmut_101": "text=None is falsy, read as `key is None and text`: text=False",
    "kerfer.runtime.overlay.x_draw_face__mutmut_154": "return for break: the bar loop is the function's last statement",
}


METRICS = ("x__ratio", "x_classification_report", "x_predict_batches", "xǁReportǁto_dict")
"""evaluation's metric functions; the rest of it (``evaluate``, its loaders and output files)
needs a trained model and is covered by the training tests, too slow to run per mutant."""


def module(name: str) -> str:
    mod, func = re.match(r"(.*)\.(x[^.]*?)__mutmut_\d+$", name).groups()
    if mod == "kerfer.evaluation":
        return mod + (" (metrics)" if func in METRICS else " (rest, not scored)")
    return mod


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for line in out.splitlines():
        if ":" not in line:
            continue
        name, status = (s.strip() for s in line.rsplit(":", 1))
        if name in EQUIVALENT:
            status = "equivalent"
        elif status in ("survived", "no tests") and "not scored" not in module(name):
            survivors.append(f"{name}: {status}")
        counts[module(name)][status] += 1
    bad = 0
    print(
        f"{'module':36} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'equiv':>5} "
        f"{'not run':>7} score"
    )
    for mod, c in sorted(counts.items()):
        killed = c["killed"] + c["timeout"]
        alive = c["survived"] + c["no tests"]
        score = killed / (killed + alive) if killed + alive else None
        bad += score is not None and score < TARGET and "not scored" not in mod
        shown = "not run" if score is None else f"{score:6.1%}"
        print(
            f"{mod:36} {sum(c.values()):7} {c['killed']:6} {c['timeout']:7} {c['survived']:8} "
            f"{c['no tests']:8} {c['equivalent']:5} {c['not checked']:7} {shown}"
        )
    if survivors:
        print("\nnot killed (mutmut show NAME):", *survivors, sep="\n  ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
