"""The overlap-tile geometry: sizes through the unpadded U-Net and the errors for invalid tiles."""

import pytest

from core import geometry as features


def test_paper_tile_gives_388_output_and_92_margin():
    geo = features.geometry(572, 5)
    assert geo.output == 388
    assert geo.margin == 92
    assert features.output_size(572) == 388
    assert features.margin(572) == 92


def test_skip_crops_match_the_paper_figure():
    # Fig. 1: 64->56, 136->104, 280->200, 568->392 (bottom-most first).
    assert features.geometry(572, 5).skip_crops == ((64, 56), (136, 104), (280, 200), (568, 392))
    assert features.geometry(572, 5).contracting == (568, 280, 136, 64, 28)


def test_252_tile_gives_68_output_at_depth_5():
    assert features.output_size(252, 5) == 68


def test_valid_tiles_are_16k_plus_12_from_188_at_depth_5():
    tiles = features.valid_tiles(5, 1, 600)
    assert tiles[0] == 188
    assert all((t - 12) % 16 == 0 for t in tiles)
    assert tiles == list(range(188, 601, 16))
    assert features.output_size(188) == 4


@pytest.mark.parametrize("tile,below,above", [(256, 252, 268), (570, 556, 572), (100, None, 188)])
def test_invalid_tiles_raise_naming_the_nearest_valid_sizes(tile, below, above):
    with pytest.raises(ValueError, match=f"tile size {tile} is not valid") as err:
        features.geometry(tile, 5)
    assert str(above) in str(err.value)
    if below is not None:
        assert str(below) in str(err.value)
    assert features.nearest_valid_tiles(tile, 5) == (below, above)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
def test_output_equals_tile_minus_twice_margin_for_every_depth(depth):
    for tile in features.valid_tiles(depth, 1, 700)[:5]:
        geo = features.geometry(tile, depth)
        assert geo.output == tile - 2 * geo.margin
        assert len(geo.contracting) == depth
        assert len(geo.expanding) == depth - 1


def test_depth_below_one_is_rejected():
    with pytest.raises(ValueError, match="depth"):
        features.geometry(572, 0)
