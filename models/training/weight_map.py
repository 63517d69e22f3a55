"""The paper's loss weight map (Eq. 2), in TF ops.

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

w_c balances the class frequencies; d1 and d2 are the distances to the nearest and second-nearest
object, the objects being the 4-connected components of a foreground class (Oxford: the pet;
cells: the cell). With several foreground classes the border term is found per class and summed:
it separates touching objects of one class, which the class labels alone cannot. The map is
computed per example inside `tf.data` (after the elastic deformation, so it follows the deformed
label).

Documented limits:
- Distance cutoff: distances are exact up to a radius R and treated as infinite beyond it, with
  R = ceil(sigma * sqrt(2 ln(w0 / BORDER_TOLERANCE))) (R = 27 px for w0 = 10, sigma = 5). Since
  d1 <= d2, the border term can only exceed BORDER_TOLERANCE (1e-5) when d2 <= R, so the cutoff
  changes no weight by more than that.
- Object cap: only the `max_objects` (8 by default) largest components by pixel count are
  objects for d1/d2;
  smaller specks beyond those are ignored (pets are one to a few objects per image; raise it for
  dense cells: the cost is linear in it).
- With fewer than two objects the border term is 0 and no distances are computed; otherwise they
  are computed only in a window around the places where two objects come within R of each other.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf

BORDER_TOLERANCE = 1e-5  # largest change of any weight that the distance cutoff may cause
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


def border_cutoff(w0: float, sigma: float) -> int:
    """Radius in px beyond which w0 * exp(-d^2 / (2 sigma^2)) stays below BORDER_TOLERANCE."""
    if w0 <= BORDER_TOLERANCE:
        return 0
    return math.ceil(sigma * math.sqrt(2.0 * math.log(w0 / BORDER_TOLERANCE)))


class _Runs(NamedTuple):
    """The horizontal runs of a mask and the component of each run (all small tensors)."""

    starts: tf.Tensor  # int32 [N], row-major flat index of each run's first pixel (sorted)
    ends: tf.Tensor  # int32 [N], flat index of each run's last pixel
    component: tf.Tensor  # int32 [N], 0..count-1, numbered by each component's first pixel
    count: tf.Tensor  # int32 scalar, number of components


def _flat_where(mask: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.where(tf.reshape(mask, [-1]))[:, 0], tf.int32)


def _run_components(mask: tf.Tensor) -> _Runs:
    """4-connected components of a boolean [H, W] mask, computed on its horizontal runs.

    Pixels are never labelled one by one: the graph has one node per run and one edge per
    overlap of two runs in neighbouring rows, so it stays small (hundreds of nodes for a pet).
    Its components come from min-label hooking plus pointer jumping, a few rounds even for long
    winding shapes.
    """
    width = tf.shape(mask)[1]
    left = tf.pad(mask[:, :-1], [[0, 0], [1, 0]])
    right = tf.pad(mask[:, 1:], [[0, 0], [0, 1]])
    starts, ends = _flat_where(mask & ~left), _flat_where(mask & ~right)
    both = mask[:-1] & mask[1:]  # a pixel and the one below it are both in the mask
    overlaps = _flat_where(both & ~tf.pad(both[:, :-1], [[0, 0], [1, 0]]))
    upper = _run_of(starts, overlaps)
    lower = _run_of(starts, overlaps + width)

    def hook(parent: tf.Tensor, _: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        up, low = tf.gather(parent, upper), tf.gather(parent, lower)
        hooked = tf.tensor_scatter_nd_min(parent, tf.maximum(up, low)[:, None], tf.minimum(up, low))
        jumped = tf.gather(hooked, tf.gather(hooked, hooked))
        return jumped, tf.reduce_any(tf.not_equal(jumped, parent))

    num_runs = tf.size(starts)
    parent, _ = tf.while_loop(
        lambda _, changed: changed,
        hook,
        (tf.range(num_runs), num_runs > 0),
        maximum_iterations=num_runs + 1,
    )
    # At the fixpoint every run points at its component's first run (a root points at itself).
    is_root = tf.equal(parent, tf.range(num_runs))
    rank = tf.cumsum(tf.cast(is_root, tf.int32)) - 1
    return _Runs(starts, ends, tf.gather(rank, parent), tf.reduce_sum(tf.cast(is_root, tf.int32)))


def _run_of(starts: tf.Tensor, flat_index: tf.Tensor) -> tf.Tensor:
    """Index of the run that starts at or before each flat index (the run holding it, if any)."""
    found = tf.searchsorted(starts[None], tf.reshape(flat_index, [1, -1]), side="right")
    return tf.reshape(found, tf.shape(flat_index)) - 1


def _label_pixels(mask: tf.Tensor, runs: _Runs, offset: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    """Component (0-based, -1 outside the mask) of each pixel of a window of the mask.

    offset: (row, col) of the window's top-left corner; window: its (rows, cols).
    """
    width = tf.shape(mask)[1]
    rows = tf.range(window[0]) + offset[0]
    cols = tf.range(window[1]) + offset[1]
    inside = mask[offset[0] : offset[0] + window[0], offset[1] : offset[1] + window[1]]
    run = tf.maximum(_run_of(runs.starts, rows[:, None] * width + cols[None, :]), 0)
    return tf.where(inside, tf.gather(runs.component, run), -1)


def connected_components(mask: tf.Tensor) -> tf.Tensor:
    """4-connected components of a boolean [H, W] mask: int32 [H, W], 0 outside the mask.

    Components are numbered 1..n in row-major order of their first pixel, as scipy.ndimage.label
    numbers them.
    """
    mask = tf.convert_to_tensor(mask, tf.bool)
    runs = _run_components(mask)
    if_empty = tf.zeros_like(mask, tf.int32)
    return tf.cond(
        runs.count > 0,
        lambda: _label_pixels(mask, runs, tf.zeros([2], tf.int32), tf.shape(mask)) + 1,
        lambda: if_empty,
    )


def _shift(values: tf.Tensor, step: int, axis: int) -> tf.Tensor:
    """values moved by `step` along axis 0 or 1 (positive: towards higher indices), _FAR in."""
    length = tf.shape(values)[axis]
    pad = [[0, 0]] * 3
    pad[axis] = [max(step, 0), max(-step, 0)]
    padded = tf.pad(values, pad, constant_values=_FAR)
    begin = max(-step, 0)
    return padded[begin : begin + length] if axis == 0 else padded[:, begin : begin + length]


def _row_distances(objects: tf.Tensor, radius: int) -> tf.Tensor:
    """Squared distance [H, W, K] to the nearest object pixel in the same row, where <= radius.

    One-sided linear distances double their exact range with each shift (1, 2, 4, ...), so
    log2(radius) shifts per direction do the work of 2 * radius + 1 shifts of a squared pass.
    """
    zero_or_far = tf.where(objects, 0.0, _FAR)
    nearest = None
    for direction in (1, -1):
        distance, step = zero_or_far, 1
        while step <= radius:
            distance = tf.minimum(distance, _shift(distance, direction * step, 1) + step)
            step *= 2
        nearest = distance if nearest is None else tf.minimum(nearest, distance)
    return tf.where(nearest <= radius, tf.square(nearest), _FAR)


def squared_distances(objects: tf.Tensor, radius: int) -> tf.Tensor:
    """Exact squared Euclidean distance [H, W, K] to each object where it is <= radius^2.

    Separable: exact row distances g (up to the radius), then the column pass
    min_s g(y + s, x) + s^2 over |s| <= radius (contiguous slices along axis 0). Every object
    pixel within Euclidean distance radius has |dy|, |dx| <= radius, so those distances are
    exact; larger true distances come out > radius^2 (never smaller), which callers read as far.
    """
    rows = _row_distances(objects, radius)
    height = tf.shape(rows)[0]
    padded = tf.pad(rows, [[radius, radius], [0, 0], [0, 0]], constant_values=_FAR)
    result = rows
    for step in range(2 * radius + 1):
        if step != radius:
            result = tf.minimum(result, padded[step : step + height] + float((step - radius) ** 2))
    return result


def _largest_objects(runs: _Runs, width: tf.Tensor, max_objects: int) -> tuple[tf.Tensor, ...]:
    """The K <= max_objects largest components: their ids [K] and boxes (y0, y1, x0, x1) [K]."""
    areas = tf.math.unsorted_segment_sum(runs.ends - runs.starts + 1, runs.component, runs.count)
    _, chosen = tf.math.top_k(areas, k=tf.minimum(runs.count, max_objects))
    rows = runs.starts // width
    box = (
        tf.math.unsorted_segment_min(rows, runs.component, runs.count),
        tf.math.unsorted_segment_max(rows, runs.component, runs.count),
        tf.math.unsorted_segment_min(runs.starts % width, runs.component, runs.count),
        tf.math.unsorted_segment_max(runs.ends % width, runs.component, runs.count),
    )
    return (chosen,) + tuple(tf.gather(side, chosen) for side in box)


def _interaction_box(boxes: tuple[tf.Tensor, ...], radius: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Where two different objects can both be within `radius`: (any such place, y0 y1 x0 x1).

    A pixel with d2 <= radius lies in two objects' boxes grown by the radius, so the border term
    vanishes outside the bounding box of all pairwise intersections of grown boxes.
    """
    y0, y1, x0, x1 = boxes
    top = tf.maximum(y0[:, None], y0[None, :]) - radius
    bottom = tf.minimum(y1[:, None], y1[None, :]) + radius
    left = tf.maximum(x0[:, None], x0[None, :]) - radius
    right = tf.minimum(x1[:, None], x1[None, :]) + radius
    count = tf.size(y0)
    pairs = (top <= bottom) & (left <= right) & ~tf.eye(count, dtype=tf.bool)
    big = tf.int32.max
    extent = tf.stack(
        [
            tf.reduce_min(tf.where(pairs, top, big)),
            tf.reduce_max(tf.where(pairs, bottom, -big)),
            tf.reduce_min(tf.where(pairs, left, big)),
            tf.reduce_max(tf.where(pairs, right, -big)),
        ]
    )
    return tf.reduce_any(pairs), extent


def border_term(
    label: tf.Tensor, w0: float, sigma: float, max_objects: int, object_class: int
) -> tf.Tensor:
    """w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) per pixel, float32 [H, W]; 0 with < 2 objects of
    `object_class`.

    Distances are computed only in a window around the places where two objects come within the
    cutoff of each other (plus the cutoff, so every object pixel that matters is inside it).
    """
    label = tf.convert_to_tensor(label)
    radius = border_cutoff(w0, sigma)
    shape = tf.shape(label)
    zeros = tf.zeros(shape, tf.float32)
    if radius == 0 or max_objects < 2:
        return zeros
    mask = tf.equal(label, tf.cast(object_class, label.dtype))
    runs = _run_components(mask)

    def in_window(chosen: tf.Tensor, extent: tf.Tensor) -> tf.Tensor:
        low = tf.maximum(extent[0::2] - radius, 0)
        high = tf.minimum(extent[1::2] + radius, shape - 1)
        components = _label_pixels(mask, runs, low, high - low + 1)
        squared = squared_distances(tf.equal(components[..., None], chosen), radius)
        nearest, _ = tf.math.top_k(-squared, k=2)
        d1_sq, d2_sq = -nearest[..., 0], -nearest[..., 1]
        total = tf.sqrt(d1_sq) + tf.sqrt(d2_sq)
        value = w0 * tf.exp(-tf.square(total) / (2.0 * sigma * sigma))
        value = tf.where(d2_sq <= float(radius * radius), value, 0.0)
        return tf.pad(value, tf.stack([low, shape - 1 - high], axis=1))

    def with_objects() -> tf.Tensor:
        chosen, *boxes = _largest_objects(runs, shape[1], max_objects)
        close, extent = _interaction_box(tuple(boxes), radius)
        return tf.cond(close, lambda: in_window(chosen, extent), lambda: zeros)

    return tf.ensure_shape(tf.cond(runs.count >= 2, with_objects, lambda: zeros), label.shape)


def weight_map(
    label: tf.Tensor,
    class_weights: tf.Tensor | None,
    *,
    border_weight: bool,
    w0: float,
    sigma: float,
    max_objects: int,
    num_classes: int,
    foreground_classes: tuple[int, ...],
) -> tf.Tensor:
    """The paper's weight map (Eq. 2) of one label [O, O]: float32 [O, O], 0 on IGNORE pixels.

    class_weights: float [num_classes] (see class_weights_from_counts), or None for w_c = 1.
    foreground_classes: the classes whose touching objects the border term separates.
    """
    label = tf.convert_to_tensor(label)
    valid = (label >= 0) & (label < num_classes)
    if class_weights is None:
        class_weights = tf.ones([num_classes], tf.float32)
    class_weights = tf.cast(class_weights, tf.float32)
    safe = tf.where(valid, tf.cast(label, tf.int32), 0)
    weights = tf.gather(class_weights, safe)
    if border_weight:
        for object_class in foreground_classes:
            weights += border_term(label, w0, sigma, max_objects, object_class)
    return tf.where(valid, weights, 0.0)
