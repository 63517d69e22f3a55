"""Segmenting images with an exported petunet SavedModel: masks in the data set's own label
values and overlays with a legend (models/serving/predict.py is its command line)."""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from core import contracts
from core.dataset import DatasetSpec
from models import visual
from models.serving.export import DATASET_ASSET
from models.transform import overlap_tile

OVERLAY_ALPHA = 0.45
LEGEND_ROW = 14  # px per legend line under the overlay


def load_model(model_dir: str):
    if not tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
        raise FileNotFoundError(f"{model_dir}: no saved_model.pb (give a model version directory)")
    return tf.saved_model.load(model_dir)


def load_dataset(model_dir: str) -> DatasetSpec:
    """The data set the model was trained on (its classes and values), written at export."""
    path = os.path.join(model_dir, DATASET_ASSET)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{model_dir}: no {DATASET_ASSET} (not a petunet model?)")
    with tf.io.gfile.GFile(path) as f:
        return DatasetSpec.from_json(f.read())


def class_colours(spec: DatasetSpec) -> dict[int, tuple[int, int, int]]:
    """Mask value -> overlay colour for every class but background (models/visual.py)."""
    colours = visual.class_colours(spec.num_classes, spec.background_class)
    return {
        value: tuple(int(c) for c in colours[index])
        for index, value in enumerate(spec.class_values)
        if index != spec.background_class
    }


def predict_mask(model, image_bytes: bytes, tiled: bool) -> tuple[np.ndarray, float | None]:
    """(mask [H, W] in the data set's label values, from the model's `mask_png`: the image fitted
    onto the canvas as in training, or (tiled) overlap-tile at full resolution; the answer's
    confidence, None from a model exported before answers had one)."""
    name = contracts.PREDICT_IMAGE_TILED_SIGNATURE if tiled else contracts.PREDICT_IMAGE_SIGNATURE
    outputs = model.signatures[name](**{contracts.IMAGE_BYTES_INPUT: tf.constant([image_bytes])})
    mask = np.asarray(Image.open(io.BytesIO(outputs[contracts.MASK_PNG_KEY].numpy()[0])))
    confidence = outputs.get(contracts.CONFIDENCE_KEY)
    return mask, None if confidence is None else float(confidence.numpy()[0])


def overlay(image: np.ndarray, mask: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """The image (as RGB) with each foreground class blended in its colour, and a legend in the
    top-left corner (class name and mask value per colour); the image's own size."""
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    blended = rgb.astype(np.float32)
    colours = class_colours(spec)
    for value, colour in colours.items():
        where = mask == value
        blended[where] = (1 - OVERLAY_ALPHA) * blended[where] + OVERLAY_ALPHA * np.array(colour)
    picture = Image.fromarray(blended.round().astype(np.uint8))
    names = dict(zip(spec.class_values, spec.class_names, strict=True))
    lines = [(f"{names[value]} ({value})", colour) for value, colour in colours.items()]
    draw = ImageDraw.Draw(picture, "RGBA")
    width = max(draw.textlength(text) for text, _ in lines) + 24
    draw.rectangle([0, 0, width, LEGEND_ROW * len(lines) + 4], fill=(255, 255, 255, 190))
    for row, (text, colour) in enumerate(lines):
        top = 2 + row * LEGEND_ROW
        draw.rectangle([4, top + 2, 14, top + 11], fill=colour)
        draw.text((20, top), text, fill=(0, 0, 0))
    return np.asarray(picture)


def predict_file(
    model, spec: DatasetSpec, path: str, out_dir: str, tiled: bool
) -> tuple[str, str, float | None]:
    """Segments one image file; returns the paths of the mask and overlay PNGs and the answer's
    confidence."""
    with tf.io.gfile.GFile(path, "rb") as f:
        image_bytes = f.read()
    image = overlap_tile.decode_image(tf.constant(image_bytes), spec.num_channels).numpy()
    mask, confidence = predict_mask(model, image_bytes, tiled)
    if mask.shape != image.shape[:2]:
        raise RuntimeError(f"{path}: mask {mask.shape} does not match image {image.shape[:2]}")
    name = os.path.splitext(os.path.basename(path))[0]
    mask_path = os.path.join(out_dir, f"{name}_mask.png")
    overlay_path = os.path.join(out_dir, f"{name}_overlay.png")
    Image.fromarray(mask.astype(np.uint8)).save(mask_path)
    Image.fromarray(overlay(image, mask, spec)).save(overlay_path)
    return mask_path, overlay_path, confidence


IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def image_paths(arguments: list[str]) -> list[str]:
    """Files as given, the images in a folder (sorted), and the files a glob matches (local or
    any file system TensorFlow reads); a name that matches nothing is kept, to fail with a
    reason."""
    paths: list[str] = []
    for argument in arguments:
        if tf.io.gfile.isdir(argument):
            names = sorted(tf.io.gfile.listdir(argument))
            paths += [os.path.join(argument, n) for n in names if n.lower().endswith(IMAGE_ENDINGS)]
        elif any(c in argument for c in "*?["):
            paths += sorted(tf.io.gfile.glob(argument))
        else:
            paths.append(argument)
    return paths
