"""The unpadded U-Net's geometry: which tile sizes are valid, and what a tile gives.

Every valid 3x3 convolution trims one pixel on each side and every 2x2 max-pool halves the map;
a tile is valid only when each map entering a pool has an even size, or the skip connections would
misalign. The sizes are traced through the network instead of taken from a closed formula, so any
depth works (depth 5: T = 16k + 12 from 188; 572 -> 388).
"""

from __future__ import annotations

from dataclasses import dataclass

CONVS_PER_LEVEL = 2
CONV_KERNEL = 3
LOSS_PER_CONV = CONV_KERNEL - 1  # a valid 3x3 convolution trims one pixel on each side
PAPER_DEPTH = 5
PAPER_TILE = 572
MAX_DEPTH = 10  # 2^9 = 512x downsampling: deeper nets have no valid tile of a sane size
MAX_TILE = 4096  # a single tile's side; beyond it one example no longer fits a GPU


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


def nearest_valid_tiles(tile: int, depth: int = PAPER_DEPTH) -> tuple[int | None, int | None]:
    """The closest valid tile below and above `tile` within 1..MAX_TILE (None where none).

    Above the smallest valid tile (less than 16 * 2^(depth-1)) valid tiles repeat with period
    2^(depth-1), so the search is bounded whatever is asked.
    """
    period = 2 ** (depth - 1)
    low = max(tile - period - 1, 0)
    high = min(max(tile, 16 * period) + period, MAX_TILE)
    candidates_below = range(min(tile, MAX_TILE + 1) - 1, low, -1)
    below = next((t for t in candidates_below if is_valid_tile(t, depth)), None)
    above = next((t for t in range(max(tile + 1, 1), high + 1) if is_valid_tile(t, depth)), None)
    return below, above


def geometry(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> UNetGeometry:
    """Geometry of a tile, or a ValueError naming the allowed range or the nearest valid tiles."""
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"U-Net depth must be in 1..{MAX_DEPTH}, got {depth}")
    if not 1 <= tile <= MAX_TILE:
        raise ValueError(f"tile size must be in 1..{MAX_TILE}, got {tile}")
    traced = _trace(tile, depth)
    if traced is None:
        below, above = nearest_valid_tiles(tile, depth)
        nearest = " or ".join(str(t) for t in (below, above) if t is not None)
        hint = f"Nearest valid tile sizes: {nearest}." if nearest else "No valid tile is near."
        raise ValueError(
            f"tile size {tile} is not valid for an unpadded U-Net of depth {depth}: every map "
            f"entering a 2x2 max-pool must have an even size. {hint}"
        )
    return traced


def output_size(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> int:
    """Output size of a valid tile (572 -> 388 at depth 5)."""
    return geometry(tile, depth).output


def margin(tile: int = PAPER_TILE, depth: int = PAPER_DEPTH) -> int:
    """Mirror padding needed on each side of the output canvas (92 at depth 5)."""
    return geometry(tile, depth).margin
