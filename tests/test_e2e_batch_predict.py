"""Batch segmentation on Beam and the one-process CLI, on the model of the first end-to-end run:
a folder of 40 files with 4 broken ones gives 36 masks and 40 manifest rows, on two Beam worker
processes; the CLI takes folders and globs; neither console shows the libraries' noise."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from models.serving import batch_files
from tests.e2e_runs import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]
NOISE = ("cuDNN", "cuFFT", "cuBLAS", "TensorRT", "cuda drivers", "non-supported Python version",
         "I0000", "absl::InitializeLog", "Local rendezvous", "png_io", "jpeg_mem", "iCCP",
         "semi_persistent_directory", "Traceback")  # fmt: skip
SIZES = [(40 + 7 * (i % 5), 50 + 11 * (i % 3)) for i in range(36)]


def _pet(index: int, size: tuple[int, int], fmt: str) -> bytes:
    from pipeline.synthetic.pets import render_pet

    buffer = io.BytesIO()
    Image.fromarray(render_pet(0, index, size)[0]).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> str:
    """36 images (PNG and JPEG, six in a subfolder) and 4 broken files."""
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    for i, size in enumerate(SIZES):
        folder = root if i < 30 else root / "sub"
        name = f"pet_{i}.jpg" if i % 2 else f"pet_{i}.png"
        (folder / name).write_bytes(_pet(i, size, "JPEG" if i % 2 else "PNG"))
    (root / "notes.jpg").write_text("not an image")
    (root / "empty.png").write_bytes(b"")
    (root / "cut.jpg").write_bytes(_pet(99, (60, 80), "JPEG")[:400])
    bomb = io.BytesIO()
    Image.fromarray(np.zeros((20000, 20000), np.bool_)).save(bomb, format="PNG")
    (root / "bomb.png").write_bytes(bomb.getvalue())
    return str(root)


def _program(*args: str) -> subprocess.CompletedProcess:
    """The command as a user starts it: without the warning filters this test process holds."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=env,
    )  # fmt: skip
    return result


def test_a_folder_on_two_beam_workers_gives_a_mask_per_image_and_a_row_per_file(
    first_run, photos, tmp_path
):
    _, _, summary = first_run
    out = str(tmp_path / "out")
    result = _program(
        "models.serving.batch_predict", "--model", summary["pushed_to"],
        "--images", os.path.join(photos, "**"), "--out", out,
        "--beam-args", "--direct_running_mode=multi_processing --direct_num_workers=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = batch_files.read_manifest(out)
    assert len(rows) == 40
    failed = {os.path.basename(r["name"]): r["reason"] for r in rows if r["status"] != "ok"}
    assert set(failed) == {"notes.jpg", "empty.png", "cut.jpg", "bomb.png"}
    assert "20000 x 20000 pixels is over the limit" in failed["bomb.png"]
    assert failed["empty.png"] == "empty file"
    masks = [r for r in rows if r["status"] == "ok"]
    assert len(masks) == 36
    for row in masks:
        index = int(os.path.basename(row["name"]).split("_")[1].split(".")[0])
        mask = np.asarray(Image.open(row["mask"]))
        assert mask.shape == SIZES[index] == tuple(row["size"])
        assert sum(row["pixels_per_class"].values()) == mask.size
        assert set(np.unique(mask)) <= {1, 2, 3}
        assert isinstance(row["confidence"], float) and 0.0 <= row["confidence"] <= 1.0
    assert all(r["confidence"] is None for r in rows if r["status"] != "ok")
    assert os.path.exists(os.path.join(out, "masks", "sub", "pet_31.png"))  # paths mirrored
    assert "petunet: 40 file(s): 36 mask(s)" in result.stdout
    for noise in NOISE:
        assert noise not in result.stderr, noise


def test_the_cli_takes_folders_and_globs(first_run, photos, tmp_path):
    _, _, summary = first_run
    out = str(tmp_path / "cli")
    result = _program(
        "models.serving.predict", "--model", summary["pushed_to"], "--out", out,
        os.path.join(photos, "sub"), os.path.join(photos, "pet_1*.jpg"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(n for n in os.listdir(out) if n.endswith("_mask.png"))
    # pet_1*.jpg: the odd (JPEG) ones among pet_1 and pet_10..19; sub/ holds pet_30..35
    expected = [f"pet_{i}_mask.png" for i in (1, 11, 13, 15, 17, 19, 30, 31, 32, 33, 34, 35)]
    assert written == sorted(expected)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(expected)
    for line in lines:
        confidence = float(re.fullmatch(r".*_overlay\.png, confidence (\S+)", line).group(1))
        assert 0.0 <= confidence <= 1.0
    for noise in NOISE:
        assert noise not in result.stderr, noise


def test_the_cli_says_why_a_file_failed_in_one_line(first_run, photos, tmp_path):
    _, _, summary = first_run
    result = _program(
        "models.serving.predict", "--model", summary["pushed_to"], "--out", str(tmp_path),
        os.path.join(photos, "notes.jpg"),
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "notes.jpg: failed: " in lines[0]


def test_the_kubeflow_compiler_and_a_benchmark_start_quietly(tmp_path):
    compiled = subprocess.run(
        [sys.executable, "kubeflow_v2_runner.py", "--output", str(tmp_path / "spec.json"),
         "--pipeline-root", "gs://bucket/root", "--data-root", "gs://bucket/pets",
         "--dataset-json", "oxford", "--preset", "test"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    assert json.load(open(tmp_path / "spec.json"))["root"]["dag"]["tasks"]
    bench = _program("bench", "training", "--help")
    assert bench.returncode == 0, bench.stderr[-3000:]
    for result in (compiled, bench):
        for noise in NOISE:
            assert noise not in result.stderr, noise


def test_the_least_confident_distinct_images_become_the_next_span(first_run, tmp_path):
    """Ten pets, a resized JPEG copy of each and two broken files: four distinct images chosen,
    least confident first, in the Oxford layout of span-2; every file a manifest row."""
    from pipeline.synthetic.pets import generate_synthetic_pets

    _, _, summary = first_run
    root = str(tmp_path / "pets")
    generate_synthetic_pets(os.path.join(root, "span-1"), 4, image_size=(40, 50))
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for i in range(10):
        (unlabelled / f"pet_{i}.png").write_bytes(_pet(50 + i, (60, 80), "PNG"))
        copy = Image.open(io.BytesIO(_pet(50 + i, (60, 80), "PNG"))).resize((64, 48))
        copy.save(unlabelled / f"pet_{i}_copy.jpg", format="JPEG", quality=70)
    (unlabelled / "notes.jpg").write_text("not an image")
    (unlabelled / "cut.jpg").write_bytes(_pet(99, (60, 80), "JPEG")[:400])
    result = _program(
        "pipeline.select_for_annotation", "--model", summary["pushed_to"],
        "--images", str(unlabelled), "--data-root", root, "--count", "4",  # a folder
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    span = os.path.join(root, "span-2")
    rows = batch_files.read_manifest(span, "annotation_manifest.jsonl")
    assert len(rows) == 22
    errors = {os.path.basename(r["name"]) for r in rows if r["selection"] == "error"}
    assert errors == {"notes.jpg", "cut.jpg"}
    assert all(r["reason"] for r in rows if r["selection"] == "error")
    chosen = [r for r in rows if r["selection"] == "selected"]
    assert [r["rank"] for r in chosen] == [1, 2, 3, 4]
    confidences = [r["confidence"] for r in chosen]
    assert confidences == sorted(confidences) and all(0 <= c <= 1 for c in confidences)
    assert all(r["confidence"] >= confidences[-1] for r in rows if r["selection"] == "not selected")

    def pet(row: dict) -> str:
        return os.path.basename(row["name"]).split(".")[0].removesuffix("_copy")

    assert len({pet(r) for r in chosen}) == 4  # never an image and its copy
    twins = [r for r in rows if r["selection"] == "near-duplicate"]
    assert twins and all(pet(r) == pet({"name": r["duplicate_of"]}) for r in twins)
    with open(os.path.join(span, "masks_to_draw.txt")) as f:
        assert f.read().split() == [r["mask"] for r in chosen]
    assert sorted(os.listdir(os.path.join(span, "images"))) == sorted(
        os.path.basename(r["image"]) for r in chosen
    )
    assert not os.path.exists(span + ".scoring")
    assert "22 file(s): 4 to annotate" in result.stdout
    for noise in NOISE:
        assert noise not in result.stderr, noise
