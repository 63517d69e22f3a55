"""The next span's skeleton: chosen images placed in the data set's own layout, the masks to draw
listed, and a span that reads as the data set once the masks are drawn."""

from __future__ import annotations

import dataclasses
import glob
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from components.example_gen import layouts, next_span, nnunet
from pipeline.synthetic.pets import generate_synthetic_pets
from tests.e2e_runs import ROOT
from tests.nnunet_folders import render_shapes, write, write_shapes


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def unlabelled(tmp_path) -> list[str]:
    paths = []
    for i, name in enumerate(["a photo.jpg", "b.jpg", "sub/a photo.jpg"]):
        path = str(tmp_path / "unlabelled" / name)
        write(path, _jpeg(render_shapes(100 + i)[0]))
        paths.append(path)
    return paths


def test_an_nnunet_span_holds_the_images_in_its_own_format_and_reads_once_drawn(
    tmp_path, unlabelled
):
    root = str(tmp_path / "data")
    write_shapes(os.path.join(root, "span-1"), train=4, test=1)
    span = next_span.new_span_folder(root)
    assert span == os.path.join(root, "span-2")
    placed = next_span.write_skeleton(layouts.describe(root), root, span, unlabelled)
    assert [p.image for p in placed] == [
        "imagesTr/a_photo_0000.png", "imagesTr/b_0000.png", "imagesTr/a_photo_2_0000.png"
    ]  # fmt: skip
    for p in placed:  # JPEG bytes became the data set's PNG, RGB as declared
        image = Image.open(os.path.join(span, p.image))
        assert image.format == "PNG" and image.mode == "RGB"
    with open(os.path.join(span, next_span.MASKS_TO_DRAW)) as f:
        assert f.read().split() == [p.mask for p in placed]
    with open(os.path.join(span, "dataset.json")) as f:
        assert json.load(f)["numTraining"] == 3
    assert os.path.isdir(os.path.join(span, "labelsTr"))
    for p in placed:  # a person draws the masks
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(os.path.join(span, p.mask))
    assert layouts.span_folder(root) == span
    spec = layouts.describe(root)  # the new span's description, checked against its folder
    first = nnunet.describe(os.path.join(root, "span-1"))
    assert dataclasses.replace(spec, name="") == dataclasses.replace(first, name="")


def test_an_oxford_span_lists_the_rows_to_complete(tmp_path, unlabelled):
    root = str(tmp_path / "pets")
    generate_synthetic_pets(os.path.join(root, "span-1"), 4, image_size=(40, 50))
    span = next_span.new_span_folder(root)
    placed = next_span.write_skeleton(layouts.describe(root), root, span, unlabelled[:2])
    assert [p.image for p in placed] == ["images/a_photo.jpg", "images/b.jpg"]
    assert [p.mask for p in placed] == [
        "annotations/trimaps/a_photo.png",
        "annotations/trimaps/b.png",
    ]
    with open(os.path.join(span, "annotations", "trainval.txt")) as f:
        rows = [line.split() for line in f if not line.startswith("#")]
    assert rows == [["a_photo", "?", "?", "?"], ["b", "?", "?", "?"]]
    assert os.path.isdir(os.path.join(span, "annotations", "trimaps"))


def test_a_root_without_spans_or_an_existing_span_is_refused(tmp_path, unlabelled):
    root = write_shapes(str(tmp_path / "plain"), train=2, test=1)
    with pytest.raises(ValueError, match="holds no span-N/ folders.*span-1"):
        next_span.new_span_folder(root)
    with pytest.raises(ValueError, match="exists"):
        next_span.new_span_folder(root, os.path.join(root, "imagesTr"))


def test_the_command_refuses_a_root_without_spans_before_any_work(tmp_path):
    root = write_shapes(str(tmp_path / "plain"), train=2, test=1)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.select_for_annotation", "--model", str(tmp_path / "none"),
         "--images", str(tmp_path / "*.png"), "--data-root", root, "--count", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"move its content into {os.path.join(root, 'span-1')}" in result.stderr
    assert not glob.glob(os.path.join(root, "*.scoring"))  # nothing written


@pytest.mark.parametrize("ending", nnunet.FILE_ENDINGS)
def test_every_nnunet_ending_is_written_in_its_format_with_the_declared_channels(
    tmp_path, unlabelled, ending
):
    root = str(tmp_path / "gray")
    write_shapes(os.path.join(root, "span-1"), train=2, test=1)
    span1 = os.path.join(root, "span-1")
    for name in os.listdir(os.path.join(span1, "imagesTr")):  # one gray channel, in `ending`
        path = os.path.join(span1, "imagesTr", name)
        gray = Image.open(path).convert("L")
        os.remove(path)
        gray.save(path.replace(".png", ending))
    description = {"channel_names": {"0": "gray"}, "labels": {"background": 0, "disc": 1,
                   "square": 2, "bar": 3}, "numTraining": 2, "file_ending": ending}  # fmt: skip
    with open(os.path.join(span1, "dataset.json"), "w") as f:
        json.dump(description, f)
    for name in os.listdir(os.path.join(span1, "labelsTr")):
        path = os.path.join(span1, "labelsTr", name)
        os.rename(path, path.replace(".png", nnunet.label_ending(ending)))
    span = next_span.new_span_folder(root)
    placed = next_span.write_skeleton(layouts.describe(root), root, span, unlabelled[:1])
    image = Image.open(os.path.join(root, "span-2", placed[0].image))
    assert placed[0].image.endswith(f"_0000{ending}") and image.mode == "L"
    assert image.format == next_span.PIL_FORMATS[ending]
    assert placed[0].mask.endswith(nnunet.label_ending(ending))
