"""The synthetic Oxford-IIIT Pet stand-in: layout, determinism, images varied enough to learn."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from pipeline.synthetic import pets as synthetic_pets
from pipeline.synthetic.catalogue import breed_table
from pipeline.synthetic.pets import generate_synthetic_pets, render_pet

NUM = 48


@pytest.fixture(scope="module")
def pets_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return generate_synthetic_pets(str(tmp_path_factory.mktemp("pets")), NUM, seed=3)


def _rows(path: str) -> list[list[str]]:
    with open(path) as f:
        return [line.split() for line in f if line.strip() and not line.startswith("#")]


def _trimaps(root: str) -> dict[str, np.ndarray]:
    folder = os.path.join(root, "annotations", "trimaps")
    return {
        name[:-4]: np.asarray(Image.open(os.path.join(folder, name)))
        for name in sorted(os.listdir(folder))
    }


def _all_files(root: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_breed_table_matches_oxford() -> None:
    table = breed_table()
    assert [b.class_id for b in table] == list(range(1, 38))
    cats = [b for b in table if b.species == 1]
    dogs = [b for b in table if b.species == 2]
    assert (len(cats), len(dogs)) == (12, 25)
    assert [b.breed_id for b in cats] == list(range(1, 13))
    assert [b.breed_id for b in dogs] == list(range(1, 26))
    assert all(b.name[0].isupper() for b in cats) and all(b.name[0].islower() for b in dogs)


def test_layout_and_list_files(pets_dir: str) -> None:
    with open(os.path.join(pets_dir, "annotations", "list.txt")) as f:
        lines = f.read().splitlines()
    assert all(line.startswith("#") for line in lines[:6]) and not lines[6].startswith("#")
    rows = _rows(os.path.join(pets_dir, "annotations", "list.txt"))
    trainval = _rows(os.path.join(pets_dir, "annotations", "trainval.txt"))
    test = _rows(os.path.join(pets_dir, "annotations", "test.txt"))
    assert len(rows) == NUM and all(len(r) == 4 for r in rows)
    assert sorted(trainval + test) == sorted(rows)
    assert not {r[0] for r in trainval} & {r[0] for r in test}
    assert abs(len(trainval) - len(test)) <= 2  # about 50/50
    by_class = {b.class_id: b for b in breed_table()}
    for name, class_id, species, breed_id in rows:
        breed = by_class[int(class_id)]
        assert name.rsplit("_", 1)[0] == breed.name
        assert (int(species), int(breed_id)) == (breed.species, breed.breed_id)
        assert os.path.isfile(os.path.join(pets_dir, "images", name + ".jpg"))
        assert os.path.isfile(os.path.join(pets_dir, "annotations", "trimaps", name + ".png"))
    assert len(os.listdir(os.path.join(pets_dir, "images"))) == NUM


def test_images_are_rgb_jpegs_of_assorted_sizes(pets_dir: str) -> None:
    sizes = []
    for name in sorted(os.listdir(os.path.join(pets_dir, "images"))):
        with Image.open(os.path.join(pets_dir, "images", name)) as img:
            assert (img.format, img.mode) == ("JPEG", "RGB")
            sizes.append(img.size)
    widths, heights = np.array(sizes).T
    assert widths.min() >= 100 and heights.min() >= 100
    assert widths.max() <= 500 and heights.max() <= 500
    assert (widths > heights).any() and (heights > widths).any()  # both orientations
    assert len(set(sizes)) > NUM // 2
    assert widths.max() - widths.min() > 150 and heights.max() - heights.min() > 150


def test_trimaps_have_three_values_and_a_thin_border(pets_dir: str) -> None:
    for name, trimap in _trimaps(pets_dir).items():
        with Image.open(os.path.join(pets_dir, "images", name + ".jpg")) as img:
            assert trimap.shape == (img.height, img.width)
        assert trimap.dtype == np.uint8
        assert set(np.unique(trimap).tolist()) == {1, 2, 3}
        pet, border = trimap == 1, trimap == 3
        # the band separates pet from background: no pet pixel touches a background pixel
        assert not (ndimage.binary_dilation(pet) & (trimap == 2)).any()
        # and it is thin: every band pixel is at most 3 px (city block) from a labelled pixel
        depth = ndimage.distance_transform_cdt(border, metric="taxicab")
        assert depth.max() <= 3
        assert border.mean() < 0.1


def test_pets_are_varied_enough_to_learn(pets_dir: str) -> None:
    fractions, centres, extents = [], [], []
    for trimap in _trimaps(pets_dir).values():
        pet = trimap == 1
        h, w = pet.shape
        fractions.append(pet.mean())
        ys, xs = np.nonzero(pet)
        centres.append((ys.mean() / h, xs.mean() / w))
        extents.append(((ys.max() - ys.min()) / h, (xs.max() - xs.min()) / w))
    fractions = np.array(fractions)
    assert 0.15 <= fractions.mean() <= 0.60  # neither class dominates
    assert fractions.min() > 0.03 and fractions.max() < 0.9
    assert fractions.std() > 0.05  # sizes vary
    centres, extents = np.array(centres), np.array(extents)
    assert (centres.std(axis=0) > 0.04).all()  # positions vary in both directions
    assert (centres.max(axis=0) - centres.min(axis=0) > 0.2).all()
    assert (extents.std(axis=0) > 0.05).all()


def test_pet_and_background_colours_overlap(pets_dir: str) -> None:
    """No single brightness threshold separates pet from background pixels well."""
    pet_lum, bg_lum = [], []
    for name, trimap in _trimaps(pets_dir).items():
        with Image.open(os.path.join(pets_dir, "images", name + ".jpg")) as img:
            lum = np.asarray(img.convert("L"))
        pet_lum.append(lum[trimap == 1])
        bg_lum.append(lum[trimap == 2])
    pet_hist = np.bincount(np.concatenate(pet_lum), minlength=256) / sum(map(len, pet_lum))
    bg_hist = np.bincount(np.concatenate(bg_lum), minlength=256) / sum(map(len, bg_lum))
    overlap = np.minimum(pet_hist, bg_hist).sum()  # 1: identical distributions, 0: disjoint
    assert overlap > 0.4


def test_same_seed_same_bytes_other_seed_other_images(tmp_path) -> None:
    a = _all_files(generate_synthetic_pets(str(tmp_path / "a"), 6, seed=11))
    b = _all_files(generate_synthetic_pets(str(tmp_path / "b"), 6, seed=11))
    c = _all_files(generate_synthetic_pets(str(tmp_path / "c"), 6, seed=12))
    assert a == b
    assert a.keys() == c.keys()
    images = [k for k in a if k.startswith("images")]
    assert all(a[k] != c[k] for k in images)


def test_fixed_size_and_render_pet() -> None:
    image, trimap, quality = render_pet(0, 5, size=(375, 500))
    assert image.shape == (375, 500, 3) and image.dtype == np.uint8
    assert trimap.shape == (375, 500)
    assert 70 <= quality <= 95
    assert image.std() > 10  # textured, not flat


def test_existing_set_is_kept_and_changed_parameters_regenerate(tmp_path) -> None:
    out = str(tmp_path / "pets")
    generate_synthetic_pets(out, 5, seed=1)
    image = os.path.join(out, "images", "Abyssinian_1.jpg")
    os.utime(image, (1, 1))
    generate_synthetic_pets(out, 5, seed=1)  # same parameters: untouched
    assert os.stat(image).st_mtime == 1
    generate_synthetic_pets(out, 3, seed=1)  # other parameters: regenerated, no stale files
    assert os.stat(image).st_mtime > 1
    assert len(os.listdir(os.path.join(out, "images"))) == 3
    assert len(_rows(os.path.join(out, "annotations", "list.txt"))) == 3


def test_cli_writes_the_set(tmp_path, capsys) -> None:
    out = str(tmp_path / "cli")
    argv = ["--out", out, "--num-images", "4", "--seed", "2", "--size", "160x120"]
    assert synthetic_pets.main(argv) == 0
    assert capsys.readouterr().out.strip() == out
    names = sorted(os.listdir(os.path.join(out, "images")))
    assert len(names) == 4
    with open(os.path.join(out, "images", names[0]), "rb") as f:
        assert Image.open(io.BytesIO(f.read())).size == (160, 120)


def test_a_test_percent_sets_the_size_of_the_test_list(tmp_path) -> None:
    root = generate_synthetic_pets(str(tmp_path / "pets"), 50, seed=1, test_percent=20)
    annotations = os.path.join(root, "annotations")
    test = {row[0] for row in _rows(os.path.join(annotations, "test.txt"))}
    trainval = {row[0] for row in _rows(os.path.join(annotations, "trainval.txt"))}
    assert (len(test), len(trainval)) == (10, 40) and not test & trainval
    assert len(os.listdir(os.path.join(root, "images"))) == 50
    with pytest.raises(ValueError, match="test_percent"):
        generate_synthetic_pets(str(tmp_path / "bad"), 5, test_percent=100)


def test_rejects_bad_count(tmp_path) -> None:
    with pytest.raises(ValueError, match="num_images"):
        generate_synthetic_pets(str(tmp_path), 0)
