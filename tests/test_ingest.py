"""Every known quirk of the Oxford-IIIT Pet files, on real files made here: ingested or skipped."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from components.example_gen import files
from components.example_gen.layout import split_of
from components.example_gen.oxford import (
    OXFORD_PETS,
    Ingested,
    ListEntry,
    MalformedRow,
    Skipped,
    check_layout,
    ingest_entry,
    parse_list_line,
)

H, W = 24, 32


def _rgb(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _trimap(h: int = H, w: int = W, value: int | None = None) -> np.ndarray:
    t = np.full((h, w), 2, np.uint8)
    t[4:-4, 6:-6] = 1
    t[4, 6:-6] = 3
    if value is not None:
        t[0, 0] = value
    return t


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    return _encode(Image.fromarray(array, mode) if mode else Image.fromarray(array), "PNG")


def _write(root, rel: str, data: bytes) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _entry(name: str) -> ListEntry:
    return ListEntry(name, class_id=5, species=2, breed_id=4)


JPEG_RGB = _encode(Image.fromarray(_rgb(1)), "JPEG", quality=90)
QUIRKS: dict[str, tuple[bytes | None, bytes | None]] = {
    # name: (image bytes at images/NAME.jpg, trimap bytes at annotations/trimaps/NAME.png)
    "good_jpeg": (JPEG_RGB, _png(_trimap())),
    "png_named_jpg": (_png(_rgb(2)), _png(_trimap())),
    "gif_named_jpg": (_encode(Image.fromarray(_rgb(3)).convert("P"), "GIF"), _png(_trimap())),
    "cmyk_jpeg": (_encode(Image.fromarray(_rgb(4)).convert("CMYK"), "JPEG"), _png(_trimap())),
    "gray_jpeg": (_encode(Image.fromarray(_rgb(5)[..., 0], "L"), "JPEG"), _png(_trimap())),
    "rgba_png": (
        _png(np.concatenate([_rgb(6), np.full((H, W, 1), 200, np.uint8)], -1)),
        _png(_trimap()),
    ),
    "palette_trimap": (JPEG_RGB, _encode(Image.fromarray(_trimap(), "L").convert("P"), "PNG")),
    "truncated_jpeg": (JPEG_RGB[: len(JPEG_RGB) // 2], _png(_trimap())),
    "junk_bytes": (b"this is not an image at all", _png(_trimap())),
    "missing_trimap": (JPEG_RGB, None),
    "size_mismatch": (JPEG_RGB, _png(_trimap(H + 2, W))),
    "trimap_value_7": (JPEG_RGB, _png(_trimap(value=7))),
    "listed_but_absent": (None, None),
}
EXPECTED_SKIPS = {
    "truncated_jpeg": "image unreadable or truncated",
    "junk_bytes": "image unreadable",
    "missing_trimap": "trimap missing: annotations/trimaps/missing_trimap.png",
    "size_mismatch": "trimap size 32x26 differs from image size 32x24",
    "trimap_value_7": "trimap values outside {1,2,3} (found 7)",
    "listed_but_absent": "image missing: images/listed_but_absent.jpg",
}


@pytest.fixture(scope="module")
def quirk_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("quirks"))
    for name, (image, trimap) in QUIRKS.items():
        if image is not None:
            _write(root, f"images/{name}.jpg", image)
        if trimap is not None:
            _write(root, f"annotations/trimaps/{name}.png", trimap)
    return root


@pytest.fixture(scope="module")
def results(quirk_root: str) -> dict[str, Ingested | Skipped]:
    return {name: ingest_entry(quirk_root, _entry(name), OXFORD_PETS, 64.0) for name in QUIRKS}


def _decode_rgb(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.mode == "RGB"
    return np.asarray(img)


def test_ingested_and_skipped_names(results) -> None:
    skipped = {n for n, r in results.items() if isinstance(r, Skipped)}
    ingested = {n for n, r in results.items() if isinstance(r, Ingested)}
    assert skipped == set(EXPECTED_SKIPS)
    assert ingested == set(QUIRKS) - set(EXPECTED_SKIPS)


@pytest.mark.parametrize("name", sorted(EXPECTED_SKIPS))
def test_skip_reasons_name_the_problem_and_file(results, name: str) -> None:
    result = results[name]
    assert isinstance(result, Skipped) and result.name == name
    assert EXPECTED_SKIPS[name] in result.reason
    assert f"{name}." in result.reason  # the file is named


def test_good_jpeg_keeps_its_bytes(results) -> None:
    result = results["good_jpeg"]
    assert result.image == JPEG_RGB and result.reencoded is None
    assert (result.height, result.width, result.species, result.breed_id) == (H, W, 2, 5)


def test_png_gif_rgba_named_jpg_are_reencoded_losslessly(results) -> None:
    assert np.array_equal(_decode_rgb(results["png_named_jpg"].image), _rgb(2))
    assert np.array_equal(_decode_rgb(results["rgba_png"].image), _rgb(6))  # alpha dropped
    gif = Image.open(io.BytesIO(QUIRKS["gif_named_jpg"][0])).convert("RGB")
    assert np.array_equal(_decode_rgb(results["gif_named_jpg"].image), np.asarray(gif))
    for name, source in (("png_named_jpg", "PNG"), ("gif_named_jpg", "GIF"), ("rgba_png", "PNG")):
        assert results[name].reencoded.startswith(source)
        assert results[name].image[:8] == b"\x89PNG\r\n\x1a\n"


def test_cmyk_and_grayscale_jpegs_become_rgb(results) -> None:
    gray = _decode_rgb(results["gray_jpeg"].image)
    assert gray.shape == (H, W, 3)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])
    original = np.asarray(Image.open(io.BytesIO(QUIRKS["gray_jpeg"][0])))
    assert np.array_equal(gray[..., 0], original)
    cmyk = _decode_rgb(results["cmyk_jpeg"].image)
    assert cmyk.shape == (H, W, 3)
    assert "CMYK" in results["cmyk_jpeg"].reencoded and "L" in results["gray_jpeg"].reencoded


def test_every_ingested_image_decodes_as_three_channels_in_tensorflow(results) -> None:
    import tensorflow as tf

    for result in results.values():
        if isinstance(result, Ingested):
            image = tf.io.decode_image(result.image, expand_animations=False)
            assert tuple(image.shape) == (result.height, result.width, 3), result.name


def test_masks_decode_to_the_trimap_values(results) -> None:
    for name in ("good_jpeg", "palette_trimap"):
        mask = Image.open(io.BytesIO(results[name].mask))
        assert (mask.format, mask.mode) == ("PNG", "L")
        assert np.array_equal(np.asarray(mask), _trimap())
    assert results["good_jpeg"].mask == QUIRKS["good_jpeg"][1]  # kept as found
    assert results["palette_trimap"].mask != QUIRKS["palette_trimap"][1]  # rewritten as gray


def test_colour_trimap_is_rejected_gray_rgb_trimap_is_accepted(quirk_root: str) -> None:
    gray_rgb = np.repeat(_trimap()[..., None], 3, axis=-1)
    _write(quirk_root, "images/rgb_trimap.jpg", JPEG_RGB)
    _write(quirk_root, "annotations/trimaps/rgb_trimap.png", _png(gray_rgb))
    accepted = ingest_entry(quirk_root, _entry("rgb_trimap"), OXFORD_PETS, 64.0)
    assert isinstance(accepted, Ingested)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(accepted.mask))), _trimap())
    gray_rgb[0, 0] = (1, 2, 3)
    _write(quirk_root, "images/colour_trimap.jpg", JPEG_RGB)
    _write(quirk_root, "annotations/trimaps/colour_trimap.png", _png(gray_rgb))
    rejected = ingest_entry(quirk_root, _entry("colour_trimap"), OXFORD_PETS, 64.0)
    assert isinstance(rejected, Skipped) and "colour" in rejected.reason


def test_parse_list_line() -> None:
    assert parse_list_line("Abyssinian_100 1 1 1\n") == ListEntry("Abyssinian_100", 1, 1, 1)
    assert parse_list_line("#Image CLASS-ID SPECIES BREED ID") is None
    assert parse_list_line("   \n") is None
    with pytest.raises(MalformedRow, match="4 columns") as err:
        parse_list_line("beagle_3 5 2")
    assert err.value.name == "beagle_3"
    with pytest.raises(MalformedRow, match="non-integer"):
        parse_list_line("beagle_3 5 dog 3")


def test_trainval_split_is_stable_and_follows_the_percentage() -> None:
    names = [f"pet_{i}" for i in range(2000)]
    first = [split_of(n, 20, False) for n in names]
    assert first == [split_of(n, 20, False) for n in names]
    share = first.count("eval") / len(names)
    assert 0.17 < share < 0.23
    assert {split_of(n, 0, False) for n in names} == {"train"}
    assert {split_of(n, 100, False) for n in names} == {"eval"}
    # a larger percentage only moves names from train to eval, never back
    more = [split_of(n, 40, False) for n in names]
    assert all(m == "eval" for f, m in zip(first, more, strict=True) if f == "eval")


def _layout(root, with_lists: bool = True) -> str:
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "annotations", "trimaps"))
    if with_lists:
        _write(root, "annotations/trainval.txt", b"a_1 1 1 1\n")
        _write(root, "annotations/test.txt", b"a_2 1 1 1\n")
    return str(root)


def test_check_layout_accepts_the_layout(tmp_path) -> None:
    check_layout(_layout(tmp_path))


def test_check_layout_names_what_is_missing(tmp_path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        check_layout(str(tmp_path / "nowhere"))
    os.makedirs(tmp_path / "images")
    with pytest.raises(ValueError) as err:
        check_layout(str(tmp_path))
    message = str(err.value)
    for missing in ("annotations", "annotations/trimaps", "annotations/trainval.txt"):
        assert os.path.join(str(tmp_path), missing) in message
    assert os.path.join(str(tmp_path), "images") + "," not in message


def test_check_layout_rejects_lists_without_rows(tmp_path) -> None:
    root = _layout(tmp_path, with_lists=False)
    _write(root, "annotations/trainval.txt", b"#only a header\n\n")
    _write(root, "annotations/test.txt", b"a_2 1 1 1\n")
    with pytest.raises(ValueError, match="without any example rows.*trainval.txt"):
        check_layout(root)


def test_read_returns_none_for_missing_files(tmp_path) -> None:
    assert files.read_in_root(str(tmp_path), "absent.jpg") is None
    _write(tmp_path, "x.bin", b"abc")
    assert files.read_in_root(str(tmp_path), "x.bin") == b"abc"
