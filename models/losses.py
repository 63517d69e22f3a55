"""The paper's loss weight map (Eq. 2) and the weighted pixel-wise softmax cross-entropy, in TF ops.

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

w_c balances the class frequencies; d1 and d2 are the distances to the nearest and second-nearest
object, the objects being the 4-connected components of the pet class. The map is computed per
example inside `tf.data` (after the elastic deformation, so it follows the deformed label).

Documented approximations (both far below the 1e-4 the tests compare at):
- Distance cutoff: distances are exact up to a radius R and treated as infinite beyond it, with
  R = ceil(sigma * sqrt(2 ln(w0 / BORDER_TOLERANCE))) (R = 27 px for w0 = 10, sigma = 5). Since
  d1 <= d2, the border term can only exceed BORDER_TOLERANCE when d2 <= R, so dropping it there
  changes no weight by more than BORDER_TOLERANCE.
- Object cap: only the MAX_OBJECTS largest components (by pixel count) are objects for d1/d2.
With fewer than two objects the border term is 0 and no distances are computed.
"""

from __future__ import annotations

import math

import tensorflow as tf

from models.features import NUM_CLASSES, PET_CLASS

DEFAULT_W0 = 10.0  # paper: w0 = 10
DEFAULT_SIGMA = 5.0  # paper: sigma ~ 5 px
BORDER_TOLERANCE = 1e-5  # largest change of any weight that the distance cutoff may cause
MAX_OBJECTS = 8  # largest components considered as objects for d1/d2 (cost is linear in it)
_FAR = 1e8  # squared distance that stands for "no object within the cutoff"


def class_weights_from_counts(counts: tf.Tensor) -> tf.Tensor:
    """w_c from per-class pixel counts over the training set: normalised inverse frequency.

    w_c = N / (K * n_c) with N the total count and K the number of classes present, so the mean
    weight over the training pixels is 1 and the loss keeps the scale of the unweighted one.
    Classes that never occur get weight 1 (neutral; they cannot contribute anyway).
    """
    counts = tf.cast(tf.convert_to_tensor(counts), tf.float32)
    present = counts > 0
    num_present = tf.reduce_sum(tf.cast(present, tf.float32))
    total = tf.reduce_sum(counts)
    inverse = tf.math.divide_no_nan(total, num_present * counts)
    return tf.where(present, inverse, tf.ones_like(counts))


def border_cutoff(w0: float = DEFAULT_W0, sigma: float = DEFAULT_SIGMA) -> int:
    """Radius in px beyond which w0 * exp(-d^2 / (2 sigma^2)) stays below BORDER_TOLERANCE."""
    if w0 <= BORDER_TOLERANCE:
        return 0
    return math.ceil(sigma * math.sqrt(2.0 * math.log(w0 / BORDER_TOLERANCE)))


def _run_ids(mask: tf.Tensor) -> tf.Tensor:
    """Ids of the horizontal runs of `mask` [H, W], row-major, non-decreasing (pixels outside
    the mask share the id of the run before them and are masked out by the caller)."""
    left = tf.pad(mask[:, :-1], [[0, 0], [1, 0]])
    starts = tf.cast(mask & ~left, tf.int32)
    return tf.cumsum(tf.reshape(starts, [-1]))


def connected_components(mask: tf.Tensor) -> tf.Tensor:
    """4-connected components of a boolean [H, W] mask: int32 [H, W], 0 outside the mask.

    Each component is labelled with 1 + the largest row-major index of its pixels. Labels spread
    by taking the maximum over whole horizontal runs, then over whole vertical runs, then by
    pointer jumping (a pixel adopts the label of the pixel its label names); this repeats until
    nothing changes, a few rounds for compact shapes.
    """
    mask = tf.convert_to_tensor(mask, tf.bool)
    height, width = tf.shape(mask)[0], tf.shape(mask)[1]
    size = height * width
    flat_mask = tf.reshape(mask, [-1])
    row_ids = _run_ids(mask)
    col_major_ids = _run_ids(tf.transpose(mask))
    col_ids = tf.reshape(tf.transpose(tf.reshape(col_major_ids, [width, height])), [-1])
    num_cols_runs = col_major_ids[-1] + 1
    start = tf.where(flat_mask, tf.range(1, size + 1), 0)

    def spread(labels: tf.Tensor) -> tf.Tensor:
        labels = tf.gather(tf.math.segment_max(labels, row_ids), row_ids)
        labels = tf.where(flat_mask, labels, 0)
        col_max = tf.math.unsorted_segment_max(labels, col_ids, num_cols_runs)
        labels = tf.where(flat_mask, tf.gather(col_max, col_ids), 0)
        jumped = tf.gather(labels, tf.maximum(labels - 1, 0))
        return tf.where(flat_mask, tf.maximum(labels, jumped), 0)

    def body(labels: tf.Tensor, _: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        new = spread(labels)
        return new, tf.reduce_any(tf.not_equal(new, labels))

    labels, _ = tf.while_loop(
        lambda _, changed: changed,
        body,
        (start, tf.size(start) > 0),
        maximum_iterations=size + 1,
    )
    return tf.reshape(labels, [height, width])


def _objects(label: tf.Tensor, max_objects: int) -> tf.Tensor:
    """Masks [H, W, K] of the K <= max_objects largest pet components."""
    components = connected_components(tf.equal(label, PET_CLASS))
    flat = tf.reshape(components, [-1])
    size = tf.size(flat)
    is_root = tf.equal(flat, tf.range(1, size + 1))
    roots = tf.boolean_mask(flat, is_root)
    areas = tf.math.unsorted_segment_sum(tf.ones_like(flat), flat, size + 1)
    count = tf.minimum(tf.size(roots), max_objects)
    _, largest = tf.math.top_k(tf.gather(areas, roots), k=count)
    chosen = tf.gather(roots, largest)
    return tf.equal(components[..., None], chosen)


def _min_plus_pass(values: tf.Tensor, radius: int, axis: int) -> tf.Tensor:
    """1-D lower envelope min_s values[x + s] + s^2 over |s| <= radius along axis 0 or 1."""
    length = tf.shape(values)[axis]
    pad = [[0, 0]] * 3
    pad[axis] = [radius, radius]
    padded = tf.pad(values, pad, constant_values=_FAR)
    result = values
    for step in range(2 * radius + 1):
        offset = float((step - radius) ** 2)
        if axis == 0:
            window = padded[step : step + length]
        else:
            window = padded[:, step : step + length]
        result = tf.minimum(result, window + offset)
    return result


def squared_distances(objects: tf.Tensor, radius: int) -> tf.Tensor:
    """Exact squared Euclidean distance [H, W, K] to each object where it is <= radius^2.

    Two separable passes of shifted minima (rows, then columns) over offsets |s| <= radius: every
    object pixel within Euclidean distance radius lies in that square window, so those distances
    are exact; larger true distances come out > radius^2 (never smaller), which means "far".
    """
    values = tf.where(objects, 0.0, _FAR)
    values = _min_plus_pass(values, radius, axis=0)
    return _min_plus_pass(values, radius, axis=1)


def border_term(
    label: tf.Tensor,
    w0: float = DEFAULT_W0,
    sigma: float = DEFAULT_SIGMA,
    max_objects: int = MAX_OBJECTS,
) -> tf.Tensor:
    """w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) per pixel, float32 [H, W]; 0 with < 2 objects."""
    radius = border_cutoff(w0, sigma)
    shape = tf.shape(label)
    if radius == 0 or max_objects < 2:
        return tf.zeros(shape, tf.float32)
    objects = _objects(label, max_objects)

    def term() -> tf.Tensor:
        squared = squared_distances(objects, radius)
        nearest, _ = tf.math.top_k(-squared, k=2)
        d1_sq, d2_sq = -nearest[..., 0], -nearest[..., 1]
        total = tf.sqrt(d1_sq) + tf.sqrt(d2_sq)
        value = w0 * tf.exp(-tf.square(total) / (2.0 * sigma * sigma))
        return tf.where(d2_sq <= float(radius * radius), value, 0.0)

    return tf.cond(tf.shape(objects)[-1] >= 2, term, lambda: tf.zeros(shape, tf.float32))


def weight_map(
    label: tf.Tensor,
    class_weights: tf.Tensor | None,
    *,
    border_weight: bool = True,
    w0: float = DEFAULT_W0,
    sigma: float = DEFAULT_SIGMA,
    max_objects: int = MAX_OBJECTS,
) -> tf.Tensor:
    """The paper's weight map (Eq. 2) of one label [O, O]: float32 [O, O], 0 on IGNORE pixels.

    class_weights: float [NUM_CLASSES] (see class_weights_from_counts), or None for w_c = 1.
    """
    label = tf.convert_to_tensor(label)
    valid = (label >= 0) & (label < NUM_CLASSES)
    if class_weights is None:
        class_weights = tf.ones([NUM_CLASSES], tf.float32)
    class_weights = tf.cast(class_weights, tf.float32)
    safe = tf.where(valid, tf.cast(label, tf.int32), 0)
    weights = tf.gather(class_weights, safe)
    if border_weight:
        weights += border_term(label, w0, sigma, max_objects)
    return tf.where(valid, weights, 0.0)


def _pixel_terms(
    labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """w(x) * CE(x) and the valid-pixel indicator, both float32 [..., O, O]."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.convert_to_tensor(labels)
    num_classes = tf.shape(logits)[-1]
    valid = (labels >= 0) & (tf.cast(labels, tf.int32) < num_classes)
    safe = tf.where(valid, tf.cast(labels, tf.int32), 0)
    pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    weighted = tf.where(valid, tf.cast(weights, tf.float32) * pixel, 0.0)
    return weighted, tf.cast(valid, tf.float32)


def weighted_pixel_loss(labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Weighted pixel-wise softmax cross-entropy, a scalar.

    labels [..., O, O] int, logits [..., O, O, C] (any float dtype, computed in float32),
    weights [..., O, O]. The sum of w(x) * CE(x) over the valid (non-IGNORE) pixels is divided by
    the number of valid pixels in the whole batch, so IGNORE pixels neither add loss nor dilute
    it; a batch without valid pixels gives 0.
    """
    weighted, valid = _pixel_terms(labels, logits, weights)
    return tf.math.divide_no_nan(tf.reduce_sum(weighted), tf.reduce_sum(valid))


def pack_targets(label: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Label and weight map as one float32 [..., O, O, 2] target for `packed_pixel_loss`."""
    return tf.stack([tf.cast(label, tf.float32), tf.cast(weights, tf.float32)], axis=-1)


def packed_pixel_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Keras loss (model.compile) for [B, O, O, 2] targets from pack_targets: losses [B].

    Each example's loss is normalised by its own valid pixels; Keras then averages over the batch
    (with batch size 1, as in the paper, this equals weighted_pixel_loss).
    """
    labels = tf.cast(tf.round(y_true[..., 0]), tf.int32)
    weighted, valid = _pixel_terms(labels, y_pred, y_true[..., 1])
    return tf.math.divide_no_nan(
        tf.reduce_sum(weighted, axis=[1, 2]), tf.reduce_sum(valid, axis=[1, 2])
    )
