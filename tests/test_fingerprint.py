"""The code fingerprint in each component's cache key: an edit reruns what imports the edited
module, and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pipeline import fingerprint
from pipeline.pipeline import CODE_FINGERPRINT_KEY, COMPONENT_CODE, create_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def tree(tmp_path) -> str:
    """A copy of the project's tracked sources to edit."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    for name in listed.stdout.split():
        if name.endswith(".py"):
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(os.path.join(ROOT, name), target)
    return str(tmp_path)


def _prints(root: str) -> dict[str, str]:
    return {
        node: fingerprint.code_fingerprint(list(mods), root)
        for node, mods in COMPONENT_CODE.items()
    }


def _edit(root: str, relative: str) -> None:
    with open(os.path.join(root, relative), "a") as f:
        f.write("\n# an edit\n")


def test_an_edit_to_the_preprocessing_module_changes_transform_and_what_imports_it(tree):
    before = _prints(tree)
    _edit(tree, "models/transform/overlap_tile.py")
    after = _prints(tree)
    changed = {node for node in before if before[node] != after[node]}
    # The Trainer's input pipeline and export use the same overlap-tile functions.
    assert changed == {"Transform", "Trainer"}


def test_an_edit_to_nothing_a_component_imports_changes_nothing(tree):
    before = _prints(tree)
    _edit(tree, "models/serving/predict.py")  # the CLI: no component imports it
    _edit(tree, "pipeline/run_report.py")
    assert _prints(tree) == before


def test_the_fingerprint_follows_relative_and_package_imports(tree):
    modules = list(COMPONENT_CODE["Evaluator"])
    files = {os.path.relpath(p, tree) for p in fingerprint.source_files(modules, tree)}
    assert "models/evaluation/scores.py" in files  # imported by tfma_metrics
    assert "models/__init__.py" in files and "models/evaluation/__init__.py" in files
    assert not any(f.startswith("pipeline/") for f in files)


def test_every_component_that_runs_project_code_carries_its_fingerprint(tmp_path):
    from components.example_gen.oxford import OXFORD_PETS
    from core import config as configs

    config = configs.get_config("test").with_dataset(OXFORD_PETS)
    carried = {}
    for kubeflow in (False, True):  # the Kubeflow pipeline has ServedModel and DataFingerprint
        pipeline = create_pipeline(config, str(tmp_path), kubeflow=kubeflow)
        carried |= {c.id: c.exec_properties.get(CODE_FINGERPRINT_KEY) for c in pipeline.components}
    for node in COMPONENT_CODE:
        assert carried[node] == fingerprint.code_fingerprint(list(COMPONENT_CODE[node]))
    assert carried["StatisticsGen"] is None  # TFX's own code: TFX versions it
