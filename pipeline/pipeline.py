"""create_pipeline(config): the petunet TFX pipeline. Wiring only; the logic lives in
components/ and models/, referenced by module path so that a KFP/Vertex image needs no wheel.

SegmentationExampleGen -> StatisticsGen -> SchemaGen -> SchemaCurator -> ExampleValidator ->
DataGate -> Transform -> Trainer -> (baseline) -> Evaluator (eval split, blessing) + Evaluator
(test split, report) -> Pusher. The baseline is the last model the eval Evaluator blessed: found
in ML Metadata by a resolver locally, read from the serving directory (ServedModel) under
Kubeflow Pipelines and Vertex AI, whose backends run no resolver that can tell it apart.
The data set's description (config.dataset) reaches every component that needs it: the
ExampleGen's checks, Transform's label mapping, the Trainer, and the Evaluators' metric names.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx
from tfx.utils import proto_utils

from components.data_gate.component import DataGate
from components.evaluator.component import Evaluator
from components.example_gen import layouts
from components.example_gen.component import SegmentationExampleGen, input_config
from components.example_gen.fingerprint import DataFingerprint
from components.pusher.component import AtomicPusher
from components.schema_curator.component import SchemaCurator
from components.served_model.component import ServedModel
from components.transform.component import Transform
from core import node_ids
from core.config import PipelineConfig
from core.contracts import EVAL, TEST, TRAIN, TRAINER_BACKUP_ROOT_KEY
from models.evaluation import confidence_metrics, eval_config, tfma_metrics
from models.transform import preprocessing
from pipeline import fingerprint, spans
from pipeline.vertex import VertexTraining

PREPROCESSING_FN = "models.transform.preprocessing.preprocessing_fn"
RUN_FN = "models.training.run_fn.run_fn"
EVALUATOR_MODULE = "models.evaluation.extractors"  # custom_extractors, found by the Evaluators
METRIC_MODULES = (tfma_metrics.MODULE, confidence_metrics.MODULE)  # TFMA imports them by name
CODE_FINGERPRINT_KEY = "code_fingerprint"
# node id -> the project modules it runs (each with everything it imports from the project)
COMPONENT_CODE: dict[str, tuple[str, ...]] = {
    node_ids.EXAMPLE_GEN: (SegmentationExampleGen.__module__,),
    "SchemaCurator": (SchemaCurator.__module__,),
    "DataGate": (DataGate.__module__,),
    node_ids.TRANSFORM: (PREPROCESSING_FN.rpartition(".")[0], Transform.__module__),
    node_ids.TRAINER: (RUN_FN.rpartition(".")[0],),
    node_ids.EVALUATOR: (Evaluator.__module__, EVALUATOR_MODULE, *METRIC_MODULES),
    node_ids.TEST_EVALUATOR: (Evaluator.__module__, EVALUATOR_MODULE, *METRIC_MODULES),
    node_ids.PUSHER: (AtomicPusher.__module__,),
    node_ids.SERVED_MODEL: (ServedModel.__module__,),
    node_ids.DATA_FINGERPRINT: (DataFingerprint.__module__,),
}


def _with_code_fingerprints(components: list) -> list:
    """Adds to each component that runs project code the fingerprint of that code, and so to its
    cache key: an edit reruns what it affects (and what follows), nothing else."""
    for component in components:
        modules = COMPONENT_CODE.get(component.id)
        if modules:
            component.exec_properties[CODE_FINGERPRINT_KEY] = fingerprint.code_fingerprint(
                list(modules)
            )
    return components


def has_spans(config: PipelineConfig, data_root: str) -> bool:
    """--spans on or off, or with auto whether the data root holds span-N/ folders."""
    if config.data.spans != "auto":
        return config.data.spans == "on"
    return bool(layouts.spans(data_root))


def _baseline(serving_dir: str, kubeflow: bool):
    """The node whose "model" output is the baseline: the latest model the eval-split Evaluator
    blessed (the one pushed), never a blessing of the test Evaluator, which has no thresholds and
    would bless nearly anything."""
    if kubeflow:
        return ServedModel(serving_model_dir=serving_dir).with_id(node_ids.SERVED_MODEL)
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.Model,
            producer_component_id=node_ids.TRAINER,
            output_key="model",
        ),
        model_blessing=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.ModelBlessing,
            producer_component_id=node_ids.EVALUATOR,
            output_key="blessing",
        ),
    ).with_id(node_ids.RESOLVER)


def create_pipeline(
    config: PipelineConfig,
    data_root: str,
    *,
    pipeline_root: str | None = None,
    metadata_connection_config=None,
    serving_model_dir: str | None = None,
    backup_root: str | None = None,
    vertex_training: VertexTraining | None = None,
    kubeflow: bool = False,
) -> tfx.dsl.Pipeline:
    """The whole pipeline for `config` reading the data folder `data_root`, which
    config.dataset describes (see components.example_gen.layouts.describe).

    The paths default to the config's local layout. `kubeflow`: the pipeline the Kubeflow runner
    compiles, with no resolver (ServedModel gives the baseline, DataFingerprint the data's key)
    and paths that may be relative to the pipeline root given at submission (core/run_paths.py);
    with `vertex_training` the Trainer runs as a Vertex AI custom job (pipeline/vertex.py).
    """
    dataset = config.dataset
    with_spans = has_spans(config, data_root)
    fingerprint_node = None
    if kubeflow:
        example_input = input_config(dataset, with_spans)
        fingerprint_node = DataFingerprint(
            input_base=data_root,
            input_config=proto_utils.proto_to_json(example_input),
            dataset=dataset.to_json(),
        ).with_id(node_ids.DATA_FINGERPRINT)
    example_gen = SegmentationExampleGen(
        input_base=data_root,
        dataset=dataset,
        eval_percent=config.data.eval_percent,
        max_file_mb=config.data.max_file_mb,
        with_spans=with_spans,
        data_fingerprint=(
            fingerprint_node.outputs["fingerprint"].future()[0].value if fingerprint_node else None
        ),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    # The schema is inferred from train only, so ExampleValidator really checks eval and test.
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"],
        infer_feature_shape=True,
        exclude_splits=[EVAL, TEST],
    )
    schema_curator = SchemaCurator(schema=schema_gen.outputs["schema"])
    curated_schema = schema_curator.outputs["curated_schema"]
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=curated_schema
    )
    # Transform and the Trainer read the schema through the gate: neither runs if a gate fails.
    # With spans: the previous span's statistics, for the drift gate, and the window of spans
    # Transform and the Trainer read (TFX's span-range resolution, after this run's ExampleGen).
    local_spans = with_spans and not kubeflow  # Kubeflow runs no resolver
    resolvers = (
        spans.resolvers(config, example_gen, statistics_gen, DataGate.get_class_type())
        if local_spans
        else None
    )
    data_gate = DataGate(
        anomalies=example_validator.outputs["anomalies"],
        examples=example_gen.outputs["examples"],
        schema=curated_schema,
        statistics=statistics_gen.outputs["statistics"],
        previous_statistics=resolvers.previous_statistics if resolvers else None,
        max_skipped_percent=config.run.max_skipped_percent,
        min_eval_examples=config.run.min_eval_examples,
        allow_anomalies=config.run.allow_anomalies,
        max_drift=config.run.max_drift,
        allow_drift=config.run.allow_drift,
    )
    gated_schema = data_gate.outputs["gated_schema"]
    transform = Transform(
        examples=resolvers.window if resolvers else example_gen.outputs["examples"],
        schema=gated_schema,
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=preprocessing.custom_config(config.transform, dataset),
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN], transform=[TRAIN, EVAL, TEST]),
        # StatisticsGen already describes the raw data; statistics of tile bytes and per-pixel
        # labels say nothing useful and made Transform hold every transformed example in memory.
        disable_statistics=True,
    )
    serving_dir = serving_model_dir or os.path.abspath(config.run.serving_model_dir)
    baseline_node = _baseline(serving_dir, kubeflow)
    baseline = baseline_node.outputs["model"]
    trainer_class = tfx.components.Trainer
    cloud: dict = {}
    if vertex_training is not None:
        trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
        cloud = vertex_training.custom_config()
    # --warm-start: from the weights of the model the baseline is (the latest blessed one).
    base_model = baseline if config.training.warm_start else None
    trainer = trainer_class(
        run_fn=RUN_FN,
        base_model=base_model,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=gated_schema,
        # The Trainer's cache key: its own section, the geometry, the data set and the export's
        # settings (not the thresholds, the gates or Beam's flags); the step counts as TFX's args.
        train_args=tfx.proto.TrainArgs(splits=[TRAIN], num_steps=config.training.train_steps),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL], num_steps=config.training.eval_steps),
        custom_config={
            **config.trainer().to_custom_config(),
            TRAINER_BACKUP_ROOT_KEY: backup_root or os.path.abspath(config.run.trainer_backup_dir),
            **cloud,
        },
    )
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline,
        eval_config=eval_config.build_eval_config(config.evaluation, dataset),
        example_splits=[EVAL],
        module_path=EVALUATOR_MODULE,  # custom_extractors: bounded batches, bounded memory
    )
    # TFX merges all example_splits of one Evaluator into one data set: a second one reports the
    # test split on its own. It has no baseline and no thresholds that matter, and its result
    # does not gate the Pusher.
    test_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config.build_eval_config(eval_config.REPORT_ONLY, dataset),
        example_splits=[TEST],
        module_path=EVALUATOR_MODULE,
    ).with_id(node_ids.TEST_EVALUATOR)
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id(node_ids.PUSHER)
    return tfx.dsl.Pipeline(
        pipeline_name=config.run.pipeline_name,
        pipeline_root=pipeline_root or os.path.abspath(config.run.pipeline_root),
        components=_with_code_fingerprints(
            [
                *([fingerprint_node] if fingerprint_node else []),
                example_gen,
                statistics_gen,
                *(resolvers.nodes if resolvers else []),
                schema_gen,
                schema_curator,
                example_validator,
                data_gate,
                transform,
                trainer,
                baseline_node,
                evaluator,
                test_evaluator,
                pusher,
            ]
        ),
        enable_cache=config.run.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.run.beam_args),
    )
