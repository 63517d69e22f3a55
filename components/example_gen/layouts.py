"""Which layout a data folder holds, and the description of the data set in it.

The layouts themselves implement components/example_gen/layout.py's interface: Oxford-IIIT Pet
(oxford.py) and nnU-Net's raw-data layout (nnunet.py). A data root may also hold spans, `span-1/`,
`span-2/`, ... each a folder of one layout (new data arriving over time, TFX's `{SPAN}`): a run
ingests the newest, and the description is the newest span's.
"""

from __future__ import annotations

import json

from components.example_gen import nnunet, oxford
from components.example_gen.files import is_dir, join, list_dir, read_in_root
from components.example_gen.layout import Layout
from core.dataset import NNUNET_LAYOUT, OXFORD_LAYOUT, DatasetSpec

LAYOUTS: dict[str, Layout] = {
    OXFORD_LAYOUT: oxford.OxfordLayout(),
    NNUNET_LAYOUT: nnunet.NnUNetLayout(),
}
OXFORD_DESCRIPTION = "oxford"  # --dataset-json's word for the Oxford-IIIT Pet layout
SPAN_PREFIX = "span-"
SPAN_PATTERN = SPAN_PREFIX + "{SPAN}"  # TFX's placeholder, resolved to the newest span


def spans(root: str) -> list[int]:
    """The span numbers of a data root that holds span-N/ folders, sorted; [] for a plain one."""
    if not is_dir(root):
        return []
    found = []
    for name in list_dir(root):
        number = name.removeprefix(SPAN_PREFIX)
        if name.startswith(SPAN_PREFIX) and number.isdigit() and is_dir(join(root, name)):
            found.append(int(number))
    return sorted(found)


def span_folder(root: str) -> str:
    """The folder the description is read from: the newest span's, or the root itself."""
    numbers = spans(root)
    return join(root, f"{SPAN_PREFIX}{numbers[-1]}") if numbers else root


def for_spec(spec: DatasetSpec) -> Layout:
    return LAYOUTS[spec.layout]


def describe(root: str, oxford_border_as_ignore: bool = False) -> DatasetSpec:
    """The data set's description, read from what the folder holds, before any component runs.

    `dataset.json` -> nnU-Net's layout; annotations/ and images/ -> the Oxford-IIIT Pet layout.
    """
    if not is_dir(root):
        raise ValueError(f"data root {root} does not exist or is not a directory")
    root = span_folder(root)
    if read_in_root(root, nnunet.DESCRIPTION_FILE) is not None:
        return nnunet.describe(root)
    if is_dir(join(root, oxford.ANNOTATIONS_DIR)) or is_dir(join(root, oxford.IMAGES_DIR)):
        oxford.check_layout(root)
        return oxford.oxford_pets(oxford_border_as_ignore)
    raise ValueError(
        f"{root} holds neither a dataset.json (nnU-Net layout: imagesTr/, labelsTr/) nor an "
        "Oxford-IIIT Pet folder (images/, annotations/trimaps/, annotations/trainval.txt, "
        "annotations/test.txt)"
    )


def describe_file(path: str, oxford_border_as_ignore: bool = False) -> DatasetSpec:
    """The description from a local file, without the data folder (compiling for a cluster):
    an nnU-Net dataset.json, the dataset.json petunet writes beside its examples, or the word
    `oxford` for the Oxford-IIIT Pet layout. Every field is checked; the ExampleGen checks the
    folder against it when it runs."""
    if path == OXFORD_DESCRIPTION:
        return oxford.oxford_pets(oxford_border_as_ignore)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise ValueError(f"--dataset-json {path}: {error.strerror}") from None
    description = nnunet.parse_description(path, data) if b'"layout"' not in data else None
    if description is not None:
        default_name = path.rsplit("/", 2)[-2] if "/" in path else "dataset"
        return nnunet.spec_from(path, description, default_name)
    try:
        return DatasetSpec.from_dict(json.loads(data))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a data set description ({error})") from None
