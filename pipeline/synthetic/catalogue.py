"""What the synthetic Oxford-IIIT Pet set lists: its 37 breeds, names, splits and image sizes.

Apart from the pixels (pets.py) so that the list files and the size spread, which mirror the real
set's, can be read on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The 37 Oxford breeds in CLASS-ID order; cats are capitalised, dogs are not (as in the real names).
BREEDS: tuple[str, ...] = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle",
    "Bengal", "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese",
    "japanese_chin", "keeshond", "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland",
    "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard", "samoyed",
    "scottish_terrier", "shiba_inu", "Siamese", "Sphynx", "staffordshire_bull_terrier",
    "wheaten_terrier", "yorkshire_terrier",
)  # fmt: skip
CAT, DOG = 1, 2
LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID",
    "#ID: 1:37 Class ids",
    "#SPECIES: 1:Cat 2:Dog",
    "#BREED ID: 1-25:Cat 1:12:Dog",
    "#All images with 1st letter as captial are cat images",
    "#images with small first letter are dog images",
)
MIN_SIDE, MAX_SIDE = 100, 500
OXFORD_TRAINVAL, OXFORD_TEST = 3680, 3669  # the real set's list files


@dataclass(frozen=True)
class Breed:
    """One row of the Oxford breed table: CLASS-ID 1..37, species, BREED-ID within the species."""

    class_id: int
    name: str
    species: int
    breed_id: int


def breed_table() -> tuple[Breed, ...]:
    """The 37 breeds with the columns Oxford's list files use."""
    rows, per_species = [], {CAT: 0, DOG: 0}
    for class_id, name in enumerate(BREEDS, start=1):
        species = CAT if name[0].isupper() else DOG
        per_species[species] += 1
        rows.append(Breed(class_id, name, species, per_species[species]))
    return tuple(rows)


@dataclass(frozen=True)
class PetRecord:
    """One generated example: its list-file row and its split."""

    name: str
    breed: Breed
    trainval: bool

    @property
    def list_line(self) -> str:
        return f"{self.name} {self.breed.class_id} {self.breed.species} {self.breed.breed_id}"


def plan(num_images: int, trainval_count: int | None = None) -> list[PetRecord]:
    """Names, breeds and splits: breeds in turn, and trainval/test alternating within a breed;
    with `trainval_count`, exactly that many trainval names (a seeded choice, as the real set's
    3,680 of 7,349)."""
    table = breed_table()
    chosen = None
    if trainval_count is not None:
        order = np.random.default_rng(num_images).permutation(num_images)
        chosen = set(order[:trainval_count].tolist())
    records = []
    for i in range(num_images):
        breed = table[i % len(table)]
        number = i // len(table) + 1
        trainval = i in chosen if chosen is not None else (i + number) % 2 == 1
        records.append(PetRecord(f"{breed.name}_{number}", breed, trainval))
    return records


def oxford_size(seed: int, index: int) -> tuple[int, int]:
    """(height, width) spread like the real photographs': a long side of 300-500 px, and one
    image in twenty larger, up to 1,500 px; aspect 0.6-1, either orientation."""
    rng = np.random.default_rng([seed, index, 1])
    large = rng.random() < 0.05
    long_side = int(rng.integers(500, 1501) if large else rng.integers(300, 501))
    short_side = int(round(long_side * rng.uniform(0.6, 1.0)))
    return (long_side, short_side) if rng.random() < 0.4 else (short_side, long_side)


def assorted_size(rng: np.random.Generator) -> tuple[int, int]:
    """(height, width): a long side of 150-500 px, aspect 0.55-1, either orientation."""
    long_side = int(rng.integers(150, MAX_SIDE + 1))
    short_side = max(MIN_SIDE, int(round(long_side * rng.uniform(0.55, 1.0))))
    return (long_side, short_side) if rng.random() < 0.4 else (short_side, long_side)
