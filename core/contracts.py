"""Every key two components share, defined once: features, splits, signatures, outputs, IGNORE.

ExampleGen, Transform, Trainer, Evaluator, the serving signatures and the run report all read their
names from here, so they cannot drift apart.
"""

from __future__ import annotations

# --- ExampleGen output (raw features) ------------------------------------------------------------
IMAGE_KEY = "image"  # encoded image bytes that decode with the data set's channel count
MASK_KEY = "mask"  # 8-bit single-channel PNG in the data set's own label values
NAME_KEY = "name"  # the case's name, e.g. "Abyssinian_1"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
SPECIES_KEY = "species"  # Oxford only: 1 cat, 2 dog (list files)
BREED_ID_KEY = "breed_id"  # Oxford only: CLASS-ID 1..37
OBJECT_SIZE_KEY = "object_size"  # the share of the image the objects cover, bucketed (slices)
MEAN_INTENSITY_KEY = "mean_intensity"  # float: the image's mean pixel value, 0..255 (drift)
CLASS_SHARE_PREFIX = "class_share_"  # float per class: its share of the labelled pixels (drift)


def class_share_name(class_name: str) -> str:
    """The raw feature of one class's pixel share, e.g. "class_share_pet"."""
    return CLASS_SHARE_PREFIX + "".join(c if c.isalnum() else "_" for c in class_name)


RAW_FEATURE_KEYS = (
    IMAGE_KEY, MASK_KEY, NAME_KEY, HEIGHT_KEY, WIDTH_KEY, SPECIES_KEY, BREED_ID_KEY,
    OBJECT_SIZE_KEY,
)  # fmt: skip
# object_size buckets: the upper bound (share of the labelled pixels) and the name
OBJECT_SIZE_BUCKETS = ((0.2, "small"), (0.5, "medium"), (1.0, "large"))

# --- Splits --------------------------------------------------------------------------------------
TRAIN, EVAL, TEST = "train", "eval", "test"
SPLITS = (TRAIN, EVAL, TEST)

# --- Transform output ----------------------------------------------------------------------------
# Only what the Trainer and the Evaluator need, without the redundancy: the image resized to its
# box on the canvas (the canvas fill and the tile margin are mirror images of it, made on the fly)
# and its labels as bytes.
IMAGE_REGION_KEY = "image_region"  # serialized uint8 [h, w, C]: the image on its canvas box
LABEL_REGION_KEY = "label_region"  # serialized uint8 [h, w]: class indices, IGNORE_LABEL
LABEL_KEY = "label"  # int64 [O, O] (training target, transform_features): IGNORE off the image
CLASS_COUNTS_KEY = "class_pixel_counts"  # float32 [K]: train-split pixel counts (for w_c)
CANVAS_BOX_KEY = "canvas_box"  # int64 [4]: top, left, height, width of the image on the canvas
IMAGE_SIZE_KEY = "image_size"  # int64 [2]: the decoded image's height and width

# --- Training targets ----------------------------------------------------------------------------
WEIGHTS_KEY = "weights"  # float32 [O, O]: the paper's weight map w(x), 0 on IGNORE

# --- Labels --------------------------------------------------------------------------------------
IGNORE_LABEL = 255  # class index of pixels that weigh nothing (off the image, or `ignore`)


# --- The Trainer's custom_config (besides its config sections) -----------------------------------
TRAINER_BACKUP_ROOT_KEY = "backup_root"  # where checkpoints are kept between runs
CONTENT_KEY_FILE = "content_key.txt"  # beside Transform's examples: what they hold (a hash)

# --- Metrics (Keras logs, TFMA, the run summary) -------------------------------------------------
PIXEL_ACCURACY_NAME = "pixel_accuracy"
MEAN_IOU_NAME = "mean_iou"
EXAMPLE_COUNT_NAME = "example_count"
# How the answers' confidence ranks the examples (models/evaluation/confidence_metrics.py)
CONFIDENCE_METRIC_PREFIX = "confidence_"
CONFIDENCE_SPEARMAN_NAME = "confidence_spearman"
CONFIDENCE_LOWEST_TENTH_NAME = "confidence_lowest_tenth_mean_iou"
CONFIDENCE_REST_NAME = "confidence_rest_mean_iou"
CONFIDENCE_GAP_NAME = "confidence_lowest_tenth_gap"
CONFIDENCE_MEASURE_NAMES = (
    CONFIDENCE_SPEARMAN_NAME,
    CONFIDENCE_LOWEST_TENTH_NAME,
    CONFIDENCE_REST_NAME,
    CONFIDENCE_GAP_NAME,
)


def iou_name(class_name: str) -> str:
    """Score name of one class's IoU, e.g. "iou/pet"."""
    return f"iou/{class_name}"


def dice_name(class_name: str) -> str:
    """Score name of one class's Dice coefficient, e.g. "dice/pet"."""
    return f"dice/{class_name}"


# --- The exported SavedModel ---------------------------------------------------------------------
# TF Serving, Vertex AI and KServe write a string output as {"b64": ...} in a REST answer only when
# its name ends in "_bytes" (tensorflow/serving util/json_tensor.cc): every binary output does.
SERVING_SIGNATURE = "serving_default"  # examples (TFX's) or image bytes (--serving-default)
PREDICT_EXAMPLES_SIGNATURE = "predict_examples"  # serialized tf.Example -> canvas probabilities
EVALUATION_SIGNATURE = "evaluate"  # raw tf.Example with its mask -> confusion matrix per example
TRANSFORM_SIGNATURE = "transform_features"  # serialized raw tf.Example -> Transform outputs
PREDICT_IMAGE_SIGNATURE = "predict_image"  # image bytes (mixed sizes) -> PNG masks at H x W
PREDICT_IMAGE_TILED_SIGNATURE = "predict_image_tiled"  # the same by overlap-tile, no resizing
PREDICT_IMAGE_MASK_SIGNATURE = "predict_image_mask"  # the mask as a dense [B, H, W] array
PREDICT_IMAGE_PROBABILITIES_SIGNATURE = "predict_image_probabilities"  # K floats per pixel
PREDICT_TILES_SIGNATURE = "predict_tiles"  # uint8 tiles -> probabilities on the output tiles
EXAMPLES_INPUT = "examples"
IMAGE_BYTES_INPUT = "image_bytes"
TILES_INPUT = "tiles"
PROBABILITIES_KEY = "probabilities"  # float32 [B, O, O, K] (or [B, H, W, K], padded with 0)
CLASSES_KEY = "classes"  # int64 [B, O, O]
CONFUSION_MATRIX_KEY = "confusion_matrix"  # int64 [B, K, K]: rows true class, columns predicted
MASK_OUTPUT_KEY = "mask"  # int32 [B, H, W] in the data set's label values, -1 as padding
MASK_PNG_KEY = "mask_png_bytes"  # string [B]: each mask as an 8-bit PNG at its image's size
CONFIDENCE_KEY = "confidence"  # float32 [B] in [0, 1]: each answer's expected mean IoU
