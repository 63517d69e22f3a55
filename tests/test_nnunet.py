"""nnU-Net's dataset.json: each bad description fails before any work, naming the field; each file
that does not match is skipped with its reason; the reader is picked by what the folder holds."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from components.example_gen import layout, layouts, nnunet
from components.example_gen.images import Ingested, Skipped
from core.dataset import NNUNET_LAYOUT, OXFORD_LAYOUT
from pipeline.synthetic.cells import generate_synthetic_cells
from tests.nnunet_folders import png, render_shapes, write, write_shapes


def _rewrite(root: str, **changes) -> None:
    path = os.path.join(root, "dataset.json")
    with open(path) as f:
        description = json.load(f)
    for key, value in changes.items():
        if value is None:
            description.pop(key, None)
        else:
            description[key] = value
    with open(path, "w") as f:
        json.dump(description, f)


@pytest.fixture()
def shapes(tmp_path) -> str:
    return write_shapes(str(tmp_path / "shapes"), train=4, test=2)


def test_a_valid_description_gives_classes_values_and_channels(shapes):
    spec = nnunet.describe(shapes)
    assert spec.layout == NNUNET_LAYOUT and spec.num_channels == 3
    assert spec.class_names == ("background", "disc", "square", "bar")
    assert spec.class_values == (0, 1, 2, 3) and spec.ignore_value is None
    assert spec.foreground_classes == (1, 2, 3)


def test_the_cells_generator_writes_a_gray_set_with_an_ignore_label(tmp_path):
    root = generate_synthetic_cells(str(tmp_path / "cells"), 10, seed=3, with_ignore=True)
    spec = nnunet.describe(root)
    assert spec.channels == ("EM",) and spec.class_names == ("background", "cell")
    assert spec.ignore_value == 2 and spec.declared_values == {0, 1, 2}
    table = spec.value_to_class()
    assert (table[0], table[1], table[2]) == (0, 1, 255)
    assert nnunet.NnUNetLayout().has_own_test(root, nnunet.describe(root))  # imagesTs + labelsTs


def test_the_cells_generator_keeps_the_test_share_it_is_given(tmp_path):
    default = generate_synthetic_cells(str(tmp_path / "default"), 10, seed=3)
    assert sorted(os.listdir(os.path.join(default, "labelsTs"))) == [
        "cells_0005.png", "cells_0010.png"
    ]  # fmt: skip
    more = generate_synthetic_cells(str(tmp_path / "more"), 10, seed=3, test_percent=40)
    assert len(os.listdir(os.path.join(more, "labelsTs"))) == 4
    with open(os.path.join(more, "dataset.json")) as f:
        assert json.load(f)["numTraining"] == 6
    nnunet.describe(more)  # numTraining matches imagesTr


@pytest.mark.parametrize(
    "changes,field,problem",
    [
        ({"labels": {"background": 0, "disc": 1, "square": 1, "bar": 3}}, "labels", "value 1"),
        ({"labels": {"disc": 1, "square": 2, "bar": 3}}, "labels", "no 'background'"),
        ({"labels": {"background": 0, "tumor": [1, 2]}}, "labels", "region"),
        ({"labels": {"background": 0, "disc": 300}}, "labels", "outside 0..255"),
        ({"labels": {"background": 0, "disc": "one"}}, "labels", "must be an integer"),
        ({"file_ending": ".nii.gz"}, "file_ending", "'.nii.gz' is not one of"),
        ({"file_ending": None}, "file_ending", "is missing"),
        ({"channel_names": None}, "channel_names", "is missing"),
        ({"channel_names": {"0": "T1", "1": "T2"}}, "channel_names", "declares 2 channels"),
        ({"channel_names": {"0": "EM"}}, "channel_names", "declares 1 channel(s) but"),
        ({"channel_names": {"1": "R", "2": "G", "3": "B"}}, "channel_names", "keys must be 0, 1"),
        ({"numTraining": 9}, "numTraining", "is 9 but"),
    ],
)
def test_each_bad_description_fails_naming_the_field(shapes, changes, field, problem):
    _rewrite(shapes, **changes)
    with pytest.raises(ValueError) as error:
        nnunet.describe(shapes)
    message = str(error.value)
    assert "dataset.json" in message and f"`{field}`" in message
    assert problem in message


def test_missing_or_malformed_description_and_folders_fail(shapes, tmp_path):
    with open(os.path.join(shapes, "dataset.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError, match="dataset.json is not valid JSON"):
        nnunet.describe(shapes)
    with open(os.path.join(shapes, "dataset.json"), "w") as f:
        f.write("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        nnunet.describe(shapes)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="dataset.json is missing"):
        nnunet.describe(str(empty))
    no_labels = write_shapes(str(tmp_path / "no_labels"), train=2, test=0)
    os.rename(os.path.join(no_labels, "labelsTr"), os.path.join(no_labels, "masks"))
    with pytest.raises(ValueError, match="labelsTr is missing"):
        nnunet.describe(no_labels)


def test_separate_channel_files_are_refused(shapes):
    image, _ = render_shapes(0)
    write(os.path.join(shapes, "imagesTr", "shape_000_0001.png"), png(image[..., 0]))
    with pytest.raises(ValueError, match="`channel_names`.*separate files"):
        nnunet.describe(shapes)


def test_the_reader_is_picked_by_what_the_folder_holds(shapes, tmp_path):
    assert layouts.describe(shapes).layout == NNUNET_LAYOUT
    oxford = tmp_path / "oxford"
    (oxford / "images").mkdir(parents=True)
    (oxford / "annotations" / "trimaps").mkdir(parents=True)
    for name in ("trainval.txt", "test.txt"):
        (oxford / "annotations" / name).write_text("cat_1 1 1 1\n")
    spec = layouts.describe(str(oxford))
    assert spec.layout == OXFORD_LAYOUT and spec.class_names == ("pet", "background", "border")
    ignoring = layouts.describe(str(oxford), oxford_border_as_ignore=True)
    assert ignoring.class_names == ("pet", "background") and ignoring.ignore_value == 3
    neither = tmp_path / "neither"
    neither.mkdir()
    with pytest.raises(ValueError, match="neither a dataset.json .* nor an Oxford-IIIT Pet"):
        layouts.describe(str(neither))


def _case(root: str, name: str, test: bool = False) -> Ingested | Skipped:
    spec = nnunet.describe(root)
    folders = ("imagesTs", "labelsTs") if test else ("imagesTr", "labelsTr")
    return nnunet.ingest_case(root, spec, nnunet.Case(name, *folders), 64.0)


def test_each_mismatching_file_is_skipped_with_its_reason(shapes):
    image, mask = render_shapes(1)
    cases = {
        "gray_image": (image[..., 0], mask),
        "rgba_image": (np.dstack([image, np.full(mask.shape, 255, np.uint8)]), mask),
        "bad_value": (image, np.where(mask == 3, 7, mask).astype(np.uint8)),
        "wrong_size": (image, mask[:-2]),
        "colour_mask": (image, np.dstack([mask, mask * 2, mask]).astype(np.uint8)),
    }
    for name, (img, msk) in cases.items():
        write(os.path.join(shapes, "imagesTr", f"{name}_0000.png"), png(img))
        write(os.path.join(shapes, "labelsTr", f"{name}.png"), png(msk))
    write(os.path.join(shapes, "imagesTr", "no_label_0000.png"), png(image))
    write(os.path.join(shapes, "labelsTr", "no_image.png"), png(mask))
    write(os.path.join(shapes, "imagesTr", "junk_0000.png"), b"not an image")
    write(os.path.join(shapes, "labelsTr", "junk.png"), png(mask))
    _rewrite(shapes, numTraining=4 + len(cases) + 3)
    expected = {
        "gray_image": "image has 1 channel(s) (L) but the data set declares 3",
        "rgba_image": "image has 4 channel(s) (RGBA)",
        "bad_value": "label values outside {0,1,2,3} (found 7)",
        "wrong_size": "label size 64x62 differs from image size 64x64",
        "colour_mask": "label is colour, not one channel",
        "no_label": "label missing: labelsTr/no_label.png",
        "no_image": "image missing: imagesTr/no_image_0000.png",
        "junk": "image unreadable",
    }
    for name, reason in expected.items():
        result = _case(shapes, name)
        assert isinstance(result, Skipped), name
        assert reason in result.reason and name in result.reason
    good = _case(shapes, "shape_000")
    assert isinstance(good, Ingested) and (good.height, good.width) == (64, 64)
    assert good.species is None and good.reencoded is None  # an RGB PNG is kept as it is


def test_jpeg_images_take_png_masks(tmp_path):
    from PIL import Image

    root = write_shapes(str(tmp_path / "jpg"), train=2, test=0, file_ending=".jpg")
    for name in os.listdir(os.path.join(root, "imagesTr")):
        path = os.path.join(root, "imagesTr", name)
        Image.open(path).convert("RGB").save(path.replace(".png", ".jpg"), quality=95)
        os.remove(path)
    spec = nnunet.describe(root)
    assert nnunet.label_ending(spec.file_ending) == ".png"
    result = _case(root, "shape_000")
    assert isinstance(result, Ingested) and result.image[:3] == b"\xff\xd8\xff"


def test_test_split_comes_from_training_cases_without_labelled_test_images(shapes):
    import shutil

    shutil.rmtree(os.path.join(shapes, "labelsTs"))
    assert not nnunet.NnUNetLayout().has_own_test(shapes, nnunet.describe(shapes))
    splits = {layout.split_of(f"case_{i}", 20, True) for i in range(200)}
    assert splits == {"train", "eval", "test"}
    assert {layout.split_of(f"case_{i}", 20, False) for i in range(200)} == {"train", "eval"}
