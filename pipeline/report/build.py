"""Gathers what a run did from its artifacts and writes `<output-dir>/report.html`.

Everything is embedded (charts and images as data: URIs), so the file opens anywhere, with no
server and no network. Sections whose inputs the run did not produce (a run stopped by a data
gate trains nothing) are left out, and the report says why.
"""

from __future__ import annotations

import base64
import csv
import datetime
import json
import os
from typing import Any

import jinja2
import numpy as np
import tensorflow as tf

from core import contracts, node_ids
from core.config import PipelineConfig
from pipeline import run_report, workspace
from pipeline.report import gallery, plots

REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"
SKIPS_SHOWN = 25
SIGNATURES = (
    (contracts.PREDICT_IMAGE_SIGNATURE, "image_bytes: encoded images, any sizes",
     "mask_png_bytes per image (label values, the image's size), image_size, confidence"),
    (contracts.PREDICT_IMAGE_TILED_SIGNATURE, "image_bytes: encoded images, any sizes",
     "the same at full resolution by overlap-tile"),
    (contracts.PREDICT_IMAGE_MASK_SIGNATURE, "image_bytes: encoded images",
     "mask [B, H, W] (label values, -1 as padding), image_size, confidence"),
    (contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE, "image_bytes: encoded images",
     "probabilities [B, H, W, K], image_size, confidence"),
    (contracts.SERVING_SIGNATURE, "examples, or image_bytes (--serving-default image)",
     "as predict_examples, or as predict_image"),
    (contracts.PREDICT_EXAMPLES_SIGNATURE, "examples: serialized tf.Example with `image`",
     "probabilities [B, O, O, K], classes [B, O, O] on the canvas, confidence"),
    (contracts.PREDICT_TILES_SIGNATURE, "tiles: uint8 [B, T, T, C]", "probabilities [B, O, O, K]"),
    (contracts.EVALUATION_SIGNATURE, "examples: raw serialized tf.Example with its mask",
     "confusion_matrix [B, K, K], confidence (used by the Evaluators)"),
    (contracts.TRANSFORM_SIGNATURE, "examples: raw serialized tf.Example",
     "the Transform outputs"),
)  # fmt: skip


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _read_json(path: str) -> dict | None:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _training_rows(model_run_uri: str) -> list[dict[str, str]]:
    path = os.path.join(model_run_uri, "training_log.csv")
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return list(csv.DictReader(f))


def _class_counts(transformed_uri: str) -> list[float] | None:
    """The train split's pixel count per class, as Transform's analyzer summed them."""
    files = tf.io.gfile.glob(os.path.join(transformed_uri, "Split-train", "*"))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1):
        example = tf.train.Example.FromString(record.numpy())
        return list(example.features.feature[contracts.CLASS_COUNTS_KEY].float_list.value)
    return None


def _ingest(examples_uri: str) -> dict[str, Any] | None:
    report = _read_json(os.path.join(examples_uri, "ingest_report.json"))
    if report is None:
        return None
    skipped = [
        {"split": split, **entry}
        for split, values in sorted(report["splits"].items())
        for entry in values["skipped"]
    ]
    return {
        **report,
        "skipped_list": skipped[:SKIPS_SHOWN],
        "skipped_more": len(skipped[SKIPS_SHOWN:]),
    }


def _verdict(config: PipelineConfig, summary: dict[str, Any]) -> dict[str, Any]:
    foreground = [config.dataset.class_names[c] for c in config.dataset.foreground_classes]
    thresholds = [(contracts.MEAN_IOU_NAME, config.evaluation.mean_iou_threshold)] + [
        (contracts.iou_name(name), config.evaluation.foreground_iou_threshold)
        for name in foreground
    ]
    measured = summary.get("eval_metrics") or {}
    baseline = summary.get("eval_baseline_metrics") or {}
    rows = [
        {"metric": name, "threshold": bound, "value": measured.get(name),
         "baseline": baseline.get(name)}
        for name, bound in thresholds
    ]  # fmt: skip
    return {
        "blessed": summary.get("blessed"),
        "rows": rows,
        "baseline_model_id": summary.get("baseline_model_id"),
        "change_threshold": config.evaluation.change_threshold,
    }


def _gallery(nodes: dict[str, run_report.NodeRun], config: PipelineConfig) -> dict[str, Any] | None:
    model = nodes.get(node_ids.TRAINER) and nodes[node_ids.TRAINER].artifact("model")
    examples = nodes.get(node_ids.EXAMPLE_GEN) and nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    if not model or not examples:
        return None
    records = gallery.read_examples(examples.uri, contracts.EVAL)
    scored, matrix = gallery.score_examples(
        os.path.join(model.uri, "Format-Serving"), records, config.dataset
    )
    best, worst = gallery.best_and_worst(scored)
    unsure = gallery.least_confident(scored)

    def cards(items: list[gallery.Scored]) -> list[dict[str, Any]]:
        return [
            {"name": s.name, "iou": s.mean_iou, "confidence": s.confidence,
             "src": _data_uri(gallery.overlay_strip(s, config.dataset))}
            for s in items
        ]  # fmt: skip

    names = list(config.dataset.class_names)
    finite = [s for s in scored if np.isfinite(s.mean_iou)]
    scatter = plots.confidence_scatter([s.confidence for s in finite], [s.mean_iou for s in finite])
    return {
        "best": cards(best),
        "worst": cards(worst),
        "least_confident": cards(unsure),
        "scored": len(scored),
        "confusion": _data_uri(plots.confusion_matrix(names, matrix)),
        "confidence_scatter": _data_uri(scatter),
    }


def gather(
    config: PipelineConfig, summary: dict[str, Any], data_root: str, seconds: float, since: float
) -> dict[str, Any]:
    """Every fact the report shows, read from this run's artifacts."""
    nodes = run_report.last_run(config.run.metadata_path, config.run.pipeline_name, since)
    spec = config.dataset
    facts: dict[str, Any] = {
        "created": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "seconds": seconds,
        "config": config,
        "dataset": spec,
        "data_root": data_root,
        "synthetic": config.data.data_root is None,
        "summary": summary,
        "states": summary.get("states", {}),
        "signatures": SIGNATURES,
        "verdict": _verdict(config, summary),
        "foreground": [spec.class_names[c] for c in spec.foreground_classes],
    }
    examples = nodes.get(node_ids.EXAMPLE_GEN) and nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    facts["ingest"] = _ingest(examples.uri) if examples else None
    transformed = nodes.get(node_ids.TRANSFORM) and nodes[node_ids.TRANSFORM].artifact(
        "transformed_examples"
    )
    counts = _class_counts(transformed.uri) if transformed else None
    if counts:
        facts["balance"] = _data_uri(plots.class_balance(list(spec.class_names), counts))
    run = nodes.get(node_ids.TRAINER) and nodes[node_ids.TRAINER].artifact("model_run")
    rows = _training_rows(run.uri) if run else []
    if rows:
        steps_per_epoch = min(config.training.checkpoint_every_steps, config.training.train_steps)
        facts["curves"] = _data_uri(plots.training_curves(rows, steps_per_epoch))
        facts["training"] = _read_json(os.path.join(run.uri, "summary.json"))
    facts["gallery"] = _gallery(nodes, config)
    return facts


def write_report(
    config: PipelineConfig, summary: dict[str, Any], data_root: str, seconds: float, since: float
) -> str:
    """Renders the report into `<output-dir>/report.html`; returns its path."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    facts = gather(config, summary, data_root, seconds, since)
    html = environment.get_template(TEMPLATE).render(**facts)
    path = os.path.join(config.run.output_dir, REPORT_FILE)
    workspace.write_atomically(path, html)
    return path
