"""Running the real pipeline from tests: the command, the node ids a full run has."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEFORE_TRAINER = {
    "SegmentationExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "SchemaCurator",
    "ExampleValidator",
    "DataGate",
    "Transform",
}
# The first run's settings (tests/conftest.py), which every later run on its output dir repeats:
# serving_default takes images, as a Vertex AI endpoint needs; a time budget the Trainer measures
# against (its steps stay 150: 30 minutes hold them).
FIRST_RUN = ("--serving-default", "image", "--train-minutes", "30")
ALL_NODES = BEFORE_TRAINER | {
    "Trainer",
    "latest_blessed_model_resolver",
    "Evaluator",
    "test_evaluator",
    "Pusher",
}


def run_pipeline(output_dir: str, *args: str, report: bool = False) -> subprocess.CompletedProcess:
    """local_runner.py on the test preset; fails the test with the output's tail if it fails.

    report: write report.html (only the tests that read it pay for it).
    """
    command = [sys.executable, "local_runner.py", "--preset", "test", "--output-dir", output_dir]
    if not report:
        command.append("--no-report")
    result = subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result
