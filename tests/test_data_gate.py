"""Each data gate: anomalies, the share of skipped files, the size of the eval split."""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.data_gate import gates


def _report(listed: int, skipped: int, eval_ingested: int) -> dict:
    return {
        "listed": listed,
        "skipped": skipped,
        "splits": {"eval": {"listed": eval_ingested, "ingested": eval_ingested, "skipped": []}},
    }


def test_a_clean_report_passes():
    assert gates.check_report(_report(100, 5, 20), 10.0, 10) == []


def test_too_many_skipped_files_fail_naming_the_share_and_the_flag():
    (failure,) = gates.check_report(_report(100, 25, 20), 10.0, 10)
    assert failure.gate == "skipped files"
    assert str(failure).startswith("data gate 'skipped files' failed: ")
    raised = gates.DataGateFailed([failure])
    assert isinstance(raised, RuntimeError) and raised.failures == [failure]
    assert str(raised) == str(failure)
    assert "25.0% of the 100 listed" in str(failure) and "--max-skipped-percent" in str(failure)


def test_a_small_eval_split_fails_naming_its_size_and_the_flag():
    (failure,) = gates.check_report(_report(100, 0, 7), 10.0, 50)
    assert failure.gate == "eval examples"
    assert "holds 7 examples, fewer than 50" in str(failure)
    assert "--min-eval-examples" in str(failure)


def test_anomalies_fail_naming_the_split_and_the_feature():
    clean = anomalies_pb2.Anomalies()
    found = anomalies_pb2.Anomalies()
    found.anomaly_info["height"].short_description = "Out-of-range values"
    assert gates.check_anomalies({"eval": clean}) == []
    (failure,) = gates.check_anomalies({"eval": clean, "test": found})
    assert failure.gate == "anomalies"
    message = str(failure)
    assert "split 'test'" in message and "height: Out-of-range values" in message
    assert "--allow-anomalies" in message
