"""The pipeline's node ids, which the wiring, the components that find their own run folder,
the run report and the tests share."""

EXAMPLE_GEN = "SegmentationExampleGen"
TRANSFORM = "Transform"
TRAINER = "Trainer"
RESOLVER = "latest_blessed_model_resolver"
EVALUATOR = "Evaluator"  # the eval split: its blessing gates the Pusher and names the baseline
TEST_EVALUATOR = "test_evaluator"  # the test split: reported only
PUSHER = "Pusher"
SPAN_WINDOW = "span_window_resolver"  # with spans: the newest --span-window spans' examples
PREVIOUS_STATISTICS = "previous_span_statistics_resolver"  # with spans: the span before
SERVED_MODEL = "ServedModel"  # Kubeflow: the model now served, the baseline
DATA_FINGERPRINT = "DataFingerprint"  # Kubeflow: the data's fingerprint, in the ExampleGen's key
