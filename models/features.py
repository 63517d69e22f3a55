"""Feature keys, the label mapping and the overlap-tile geometry: the contracts between components.

Every component reads its keys from here so that ExampleGen, Transform, Trainer, Evaluator and the
serving signatures cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- ExampleGen output (raw features) ------------------------------------------------------------
IMAGE_KEY = "image"  # encoded image bytes that decode as 3-channel RGB (JPEG or PNG)
MASK_KEY = "mask"  # PNG trimap bytes, values 1 pet / 2 background / 3 border
NAME_KEY = "name"  # Oxford file stem, e.g. "Abyssinian_1"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
SPECIES_KEY = "species"  # 1 cat, 2 dog (Oxford list files)
BREED_ID_KEY = "breed_id"

RAW_FEATURE_KEYS = (IMAGE_KEY, MASK_KEY, NAME_KEY, HEIGHT_KEY, WIDTH_KEY, SPECIES_KEY, BREED_ID_KEY)

# --- Transform output ----------------------------------------------------------------------------
TILE_KEY = "image_tile"  # uint8 T x T x 3, the mirror-padded overlap tile
LABEL_KEY = "label"  # int64 O x O, classes 0..2 and IGNORE outside the image
CLASS_COUNTS_KEY = "class_pixel_counts"  # float32 [NUM_CLASSES]: train-split pixel counts (for w_c)

# --- Labels --------------------------------------------------------------------------------------
# Oxford trimap value -> class index. Class 0 is the pet so that "class 0 IoU" reads as "pet IoU".
TRIMAP_TO_CLASS = {1: 0, 2: 1, 3: 2}
CLASS_NAMES = ("pet", "background", "border")
NUM_CLASSES = len(CLASS_NAMES)
PET_CLASS = 0
IGNORE_LABEL = 255  # canvas pixels outside the image; weight 0 in loss and metrics

# --- Geometry ------------------------------------------------------------------------------------
CONVS_PER_LEVEL = 2
CONV_KERNEL = 3
LOSS_PER_CONV = CONV_KERNEL - 1  # a valid 3x3 convolution trims one pixel on each side
PAPER_DEPTH = 5
PAPER_TILE = 572


@dataclass(frozen=True)
class UNetGeometry:
    """Spatial sizes through an unpadded U-Net, derived from the tile size and depth.

    contracting: size of each level's feature map after its two convolutions (the skip before
        cropping), top level first, bottom level last.
    expanding: size after each up-convolution, bottom-most first (the size a skip is cropped to).
    """

    tile: int
    depth: int
    contracting: tuple[int, ...]
    expanding: tuple[int, ...]
    output: int

    @property
    def margin(self) -> int:
        """Pixels of context the network consumes on each side: (tile - output) / 2."""
        return (self.tile - self.output) // 2

    @property
    def skip_crops(self) -> tuple[tuple[int, int], ...]:
        """(skip size, cropped size) per expansive level, bottom-most first (paper: 64->56 ...)."""
        skips = tuple(reversed(self.contracting[:-1]))
        return tuple(zip(skips, self.expanding, strict=True))


def _trace(tile: int, depth: int) -> UNetGeometry | None:
    """Follows the sizes through the network; None when the tile does not fit exactly."""
    if depth < 1 or tile < 1:
        return None
    trim = CONVS_PER_LEVEL * LOSS_PER_CONV
    size = tile
    contracting: list[int] = []
    for level in range(depth):
        size -= trim
        if size < 1:
            return None
        contracting.append(size)
        if level < depth - 1:
            if size % 2:  # a 2x2 max-pool on an odd map drops a row: skips would misalign
                return None
            size //= 2
    expanding: list[int] = []
    for _ in range(depth - 1):
        size *= 2
        expanding.append(size)
        size -= trim
        if size < 1:
            return None
    return UNetGeometry(tile, depth, tuple(contracting), tuple(expanding), size)


def is_valid_tile(tile: int, depth: int = PAPER_DEPTH) -> bool:
    return _trace(tile, depth) is not None


def valid_tiles(depth: int = PAPER_DEPTH, low: int = 1, high: int = 1024) -> list[int]:
    """All valid tile sizes in [low, high] (for depth 5: 188, 204, ..., 572, ...: 16k + 12)."""
    return [t for t in range(max(low, 1), high + 1) if is_valid_tile(t, depth)]


def nearest_valid_tiles(tile: int, depth: int = PAPER_DEPTH) -> tuple[int | None, int]:
    """The closest valid tile below (None if there is none) and above `tile`."""
    below = next((t for t in range(tile - 1, 0, -1) if is_valid_tile(t, depth)), None)
    above = next(t for t in range(tile + 1, tile + 2**depth * 4 + 64) if is_valid_tile(t, depth))
    return below, above


def geometry(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> UNetGeometry:
    """Geometry of a tile, or a ValueError that names the nearest valid tiles."""
    if depth < 1:
        raise ValueError(f"U-Net depth must be at least 1, got {depth}")
    traced = _trace(tile, depth)
    if traced is None:
        below, above = nearest_valid_tiles(tile, depth)
        nearest = f"{below} or {above}" if below else f"{above}"
        raise ValueError(
            f"tile size {tile} is not valid for an unpadded U-Net of depth {depth}: every map "
            f"entering a 2x2 max-pool must have an even size. Nearest valid tile sizes: {nearest}."
        )
    return traced


def output_size(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> int:
    """Output size of a valid tile (572 -> 388 at depth 5)."""
    return geometry(tile, depth).output


def margin(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> int:
    """Mirror padding needed on each side of the output canvas (92 at depth 5)."""
    return geometry(tile, depth).margin
