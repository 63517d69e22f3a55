"""Start-up is explicit: importing any project module leaves the process as it was; the one
start-up call sets what must precede TensorFlow, which the processes it starts inherit; every
library patch checks the version it was written for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from startup import patches
from tests.e2e_runs import ROOT

PACKAGES = ("core", "startup", "models", "components", "pipeline", "bench")
TOP_MODULES = ("local_runner", "kubeflow_v2_runner", "petunet")


def project_modules() -> list[str]:
    found = list(TOP_MODULES)
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            relative = os.path.relpath(folder, ROOT).replace(os.sep, ".")
            for name in sorted(files):
                if name.endswith(".py") and name != "__main__.py":
                    module = relative if name == "__init__.py" else f"{relative}.{name[:-3]}"
                    found.append(module)
    return found


# Libraries that change the environment when imported (TensorFlow Transform selects Keras 2 for
# itself, scikit-learn sets OpenMP's flags): imported first, so what changes after is ours.
LIBRARIES = ("tensorflow", "tensorflow_transform", "sklearn", "threadpoolctl", "tfx.v1",
             "tensorflow_model_analysis", "apache_beam", "matplotlib.pyplot")  # fmt: skip
IMPORT_ALL = """
import importlib, json, os, sys
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
before_env, before_stderr, fd = dict(os.environ), sys.stderr, os.fstat(2)
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
after = os.fstat(2)
changed = {k: os.environ.get(k) for k in set(os.environ) ^ set(before_env)}
changed.update({k: v for k, v in os.environ.items() if before_env.get(k, v) != v})
print(json.dumps({"env": changed, "stderr": sys.stderr is before_stderr,
                  "fd2": (fd.st_ino, fd.st_dev) == (after.st_ino, after.st_dev)}))
"""


def test_importing_every_module_leaves_the_environment_and_stderr_untouched():
    modules = project_modules()
    assert "models.training.trainer" in modules and "startup.patches" in modules
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS",
           "TF_ENABLE_ONEDNN_OPTS", "PYTHONWARNINGS")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, json.dumps(modules), json.dumps(LIBRARIES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["env"] == {}, found["env"]
    assert found["stderr"] and found["fd2"]


START_THEN_CHILD = """
import subprocess, sys
import startup
startup.start()
child = "import tensorflow as tf, os; print(tf.keras.__name__, os.environ['TF_ENABLE_ONEDNN_OPTS'])"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout)
"""


def test_a_process_started_after_start_up_gets_keras_2_and_onednn():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_ENABLE_ONEDNN")}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, "-c", START_THEN_CHILD], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    keras, onednn = result.stdout.split()[-2:]
    assert keras.startswith("tf_keras") and onednn == "1"


def test_the_image_sets_what_must_precede_tensorflow():
    """A Kubeflow container starts in TFX's entrypoint: the image's ENV must carry it."""
    from tests.kfp_image import dockerfile_environment

    _, env = dockerfile_environment(os.path.join(ROOT, "Dockerfile"))
    import startup

    for key, value in startup.KERAS_2.items():
        assert env[key] == value
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "1"


@pytest.mark.parametrize("patch", patches.ALL, ids=[p.name for p in patches.ALL])
def test_every_patch_names_its_library_version_and_what_retires_it(patch):
    patch.check()  # the locked environment is the one each patch was written for
    assert patch.why and patch.retired_by


@pytest.mark.parametrize("patch", patches.ALL, ids=[p.name for p in patches.ALL])
def test_a_patch_refuses_another_version_of_its_library(patch):
    with pytest.raises(patches.PatchVersionError) as refused:
        patch.check(installed=lambda package: "99.0.0")
    message = str(refused.value)
    assert patch.package in message and patch.version in message and "99.0.0" in message
    assert "startup/patches.py" in message


def test_start_refuses_to_patch_before_patching_anything(monkeypatch):
    monkeypatch.setattr(patches.metadata, "version", lambda package: "0.1")
    applied = []
    fake = patches.Patch("x", "tfx", "1.16", "why", "upstream", lambda: applied.append(1))
    with pytest.raises(patches.PatchVersionError):
        patches.apply((fake,))
    assert applied == []
