"""The data set's description and how it reaches Transform, the weight map and the config."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from components.example_gen.oxford import OXFORD_PETS, oxford_pets
from core import config as configs
from core.contracts import IGNORE_LABEL
from core.dataset import DatasetSpec
from models.training import weight_map
from models.transform import overlap_tile

CELLS = DatasetSpec("cells", "nnunet", ("EM",), (("background", 0), ("cell", 1)), 2)
VOC = DatasetSpec(
    "voc", "nnunet", ("R", "G", "B"), (("background", 0), ("cat", 8), ("dog", 12)), 255
)


def _canvas_label(mask, box, canvas: int, spec):
    """The O x O label of a mask, through Transform's and the Trainer's two steps."""
    region = overlap_tile.mask_to_region(mask, box, spec)
    return overlap_tile.region_to_label(region, box, canvas)


def test_classes_follow_the_label_values_and_ignore_is_left_out():
    assert OXFORD_PETS.class_names == ("pet", "background", "border")
    assert OXFORD_PETS.foreground_classes == (0,)  # border is the outline, not an object class
    assert VOC.class_names == ("background", "cat", "dog") and VOC.foreground_classes == (1, 2)
    table = VOC.value_to_class()
    assert (table[0], table[8], table[12], table[255], table[3]) == (0, 1, 2, 255, 255)
    assert VOC.declared_values == {0, 8, 12, 255}
    assert DatasetSpec.from_json(VOC.to_json()) == VOC
    ignoring = oxford_pets(border_as_ignore=True)
    assert ignoring.class_names == ("pet", "background") and ignoring.ignore_value == 3


@pytest.mark.parametrize(
    "labels,message",
    [
        ((("cell", 1), ("more", 2)), "background"),
        ((("background", 0), ("cell", 0)), "distinct values"),
        ((("background", 0),), "at least two classes"),
    ],
)
def test_an_impossible_description_is_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        DatasetSpec("x", "nnunet", ("EM",), labels)


def test_mask_values_become_classes_and_ignore_stays_ignore():
    mask = np.zeros((8, 8), np.uint8)
    mask[:, 4:] = 12
    mask[:2] = 255  # void
    box = tf.constant([0, 0, 8, 8])
    label = _canvas_label(tf.constant(mask[..., None]), box, 8, VOC).numpy()
    assert (label[:2] == IGNORE_LABEL).all()
    assert (label[2:, :4] == 0).all() and (label[2:, 4:] == 2).all()


def test_a_mostly_unlabelled_footprint_is_ignored_when_shrunk():
    mask = np.ones((8, 8), np.uint8)
    mask[:, :5] = 2  # 5 of 8 columns unlabelled
    box = tf.constant([0, 0, 4, 4])
    label = _canvas_label(tf.constant(mask[..., None]), box, 4, CELLS).numpy()
    assert (label[:, :2] == IGNORE_LABEL).all() and (label[:, 3] == 1).all()


PAPER_BORDER = dict(border_weight=True, w0=10.0, sigma=5.0, max_objects=8)


def test_the_border_term_separates_touching_objects_of_each_foreground_class():
    label = np.zeros((24, 40), np.int64)
    label[4:20, 2:18] = 1
    label[4:20, 20:38] = 1  # two cats, 2 px apart
    weights = weight_map.weight_map(
        label, None, num_classes=3, foreground_classes=VOC.foreground_classes, **PAPER_BORDER
    ).numpy()
    assert weights[12, 18] > 9.0 and weights[12, 19] > 9.0  # the gap between them
    label[label == 1] = 0
    label[4:20, 2:18] = 1
    label[4:20, 20:38] = 2  # a cat and a dog: different classes, no border term
    weights = weight_map.weight_map(
        label, None, num_classes=3, foreground_classes=VOC.foreground_classes, **PAPER_BORDER
    ).numpy()
    assert weights.max() == pytest.approx(1.0)


def test_the_config_carries_the_description_through_its_json():
    config = configs.get_config("test").with_dataset(VOC)
    assert config.trainer().num_classes == 3 and config.trainer().input_channels == 3
    restored = configs.PipelineConfig.from_json(config.to_json())
    assert restored.dataset == VOC and restored == config
