"""``kerfer predict`` outputs: annotated copies never overwrite each other, a failed write and a
folder with nothing to read are errors, not silent successes."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main


@needs_media
def test_save_annotated_keeps_every_output_and_reports_a_failed_write(tmp_path):
    photos = tmp_path / "in"
    (photos / "a").mkdir(parents=True)
    (photos / "b").mkdir()
    shutil.copy(MEDIA / "obama.jpg", photos / "a" / "face.jpg")
    cv2.imwrite(str(photos / "a" / "face.png"), cv2.imread(str(MEDIA / "obama.jpg")))
    shutil.copy(MEDIA / "obama.jpg", photos / "b" / "face.jpg")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["predict", "--json", "--save-annotated", str(out), str(photos)])
    assert r.exit_code == 0, r.output
    written = [json.loads(line)["annotated"] for line in r.output.splitlines()]
    assert len(set(written)) == 3 and sorted(p.name for p in out.iterdir()) == sorted(p.split("/")[-1] for p in written)
    r = CliRunner().invoke(main, ["predict", "--save-annotated", "/proc", str(photos / "b" / "face.jpg")])
    assert r.exit_code == 1 and "cannot write the annotated image /proc/face_kerfer.jpg" in r.output


def test_folder_without_supported_images_says_what_was_skipped(tmp_path):
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\0" * 64)
    (tmp_path / "notes.txt").write_text("hi")
    r = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert r.exit_code == 1
    assert "no supported images in this folder: skipped 2 file(s) of unsupported type .heic, .txt" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(main, ["predict", str(empty)])
    assert r.exit_code == 1 and "it is empty" in r.output
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((60, 60), 128, np.uint8))
    r = CliRunner().invoke(main, ["predict", str(tmp_path)])  # one image read: a note, exit 0
    assert r.exit_code == 0 and "skipped 2 file(s)" in r.output and "gray.png: no face found" in r.output


@needs_media
def test_exif_orientation_is_honoured_in_predict_and_folders(tmp_path):
    from PIL import Image

    from kerfer.data.folders import read_image_folder
    from kerfer.runtime.images import read_image

    upright = cv2.imread(str(MEDIA / "obama.jpg"))
    sideways = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # how a phone stores a portrait shot
    photo = Image.fromarray(cv2.cvtColor(sideways, cv2.COLOR_BGR2RGB))
    exif = photo.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    folder = tmp_path / "train" / "happy"
    folder.mkdir(parents=True)
    photo.save(folder / "portrait.jpg", exif=exif)
    assert read_image(folder / "portrait.jpg").shape == upright.shape
    r = CliRunner().invoke(main, ["predict", str(folder / "portrait.jpg")])
    assert r.exit_code == 0 and "face 1 at" in r.output, r.output
    x, _, _ = read_image_folder(tmp_path, "train", 48)
    expected = cv2.resize(cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(x[0, ..., 0].astype(int) - expected.astype(int)).mean() < 6
