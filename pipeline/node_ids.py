"""The pipeline's node ids, which the wiring, the run report and the tests share."""

EXAMPLE_GEN = "SegmentationExampleGen"
TRANSFORM = "Transform"
TRAINER = "Trainer"
RESOLVER = "latest_blessed_model_resolver"
EVALUATOR = "Evaluator"  # the eval split: its blessing gates the Pusher and names the baseline
TEST_EVALUATOR = "test_evaluator"  # the test split: reported only
PUSHER = "Pusher"
