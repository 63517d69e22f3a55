"""Training in processes of its own: a cluster of local workers, or logical CPU devices.

`--train-workers N` runs the Trainer's job as N worker processes on loopback ports, each with the
TF_CONFIG that Vertex AI or Kubeflow's training operator would give it, so the multi-worker path
(MultiWorkerMirroredStrategy, the chief's export, the shared checkpoint) is the one a cluster runs.
`--train-devices N` on a CPU needs a fresh process too: TensorFlow splits the CPU into logical
devices only before it starts, and the Trainer's own process has long started (Transform ran in it).

The chief (worker 0) writes to the console; the other workers to `worker-<i>.log` in the model run
folder. When a worker dies, the others would wait on it forever: all are stopped and the cluster is
started again (at most MAX_RESTARTS times); every worker then resumes from the shared checkpoint.

    python -m models.training.cluster JOB.json     # one worker (TF_CONFIG from the environment)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

from core import errors
from core.config import TrainerConfig
from models.training.job import TrainingJob

JOB_FILE = "training_job.json"
MAX_RESTARTS = 2
POLL_SECONDS = 0.5


def needs_own_processes(config: TrainerConfig) -> bool:
    """A local cluster (workers > 1 and no TF_CONFIG of the platform's), or logical CPU devices
    in a process where TensorFlow has started."""
    from models.training import execution

    settings = config.training
    if settings.train_workers > 1 and execution.cluster_spec() is None:
        return True
    if settings.train_devices > 1:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return not execution.logical_cpus(settings.train_devices)
    return False


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    """The TF_CONFIG of worker `index` of a loopback cluster (the form Vertex AI writes)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def _start(job_path: str, run_dir: str, workers: int) -> list[subprocess.Popen]:
    ports = _free_ports(workers) if workers > 1 else []
    processes = []
    for index in range(workers):
        env = dict(os.environ)
        env.pop("TF_CONFIG", None)
        if workers > 1:
            env["TF_CONFIG"] = tf_config(ports, index)
        log = None if index == 0 else open(os.path.join(run_dir, f"worker-{index}.log"), "ab")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "models.training.cluster", job_path],
                env=env,
                stdout=log,
                stderr=log,
                cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            )
        )
        if log is not None:
            log.close()
    return processes


def _stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.kill()
    for p in processes:
        p.wait()


def _wait(processes: list[subprocess.Popen]) -> int | None:
    """None when all end well; the failing worker's index as soon as one fails (the rest
    stopped). An interrupt of this process stops the workers too."""
    try:
        while True:
            codes = [p.poll() for p in processes]
            failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                _stop(processes)
                return failed[0]
            if all(code == 0 for code in codes):
                return None
            time.sleep(POLL_SECONDS)
    except BaseException:
        _stop(processes)
        raise


def _error_file(run_dir: str, index: int) -> str:
    return os.path.join(run_dir, f"worker-{index}.error.json")


def _raise_worker_problem(run_dir: str, index: int) -> None:
    """A worker that stopped for a reason of the data or the machine (it wrote which): retrying
    would only fail again, so the Trainer stops with the worker's own message."""
    path = _error_file(run_dir, index)
    if not os.path.exists(path):
        return
    with open(path) as f:
        problem = json.load(f)
    kind = errors.DataProblem if problem["code"] == errors.EXIT_DATA else errors.MachineProblem
    raise kind(problem["message"])


def train_in_processes(job) -> None:
    """Runs `job` (a TrainingJob) on its workers; restarts the cluster when one dies."""
    settings = job.config.training
    os.makedirs(job.model_run_dir, exist_ok=True)
    job_path = os.path.join(job.model_run_dir, JOB_FILE)
    with open(job_path, "w") as f:
        f.write(job.to_json())
    workers = settings.train_workers
    logging.info(
        "petunet: training in %d worker process(es) with %s", workers,
        f"{settings.train_devices} device(s) each" if settings.train_devices else "one device",
    )  # fmt: skip
    for attempt in range(MAX_RESTARTS + 1):
        for index in range(workers):
            if os.path.exists(_error_file(job.model_run_dir, index)):
                os.remove(_error_file(job.model_run_dir, index))
        failed = _wait(_start(job_path, job.model_run_dir, workers))
        if failed is None:
            return
        _raise_worker_problem(job.model_run_dir, failed)
        if attempt < MAX_RESTARTS:
            logging.info(
                "petunet: training worker %d stopped; starting the cluster again (it resumes from "
                "the shared checkpoint)", failed,
            )  # fmt: skip
    raise RuntimeError(
        f"training worker {failed} failed {MAX_RESTARTS + 1} times; its log: "
        + (os.path.join(job.model_run_dir, f"worker-{failed}.log") if failed else "above")
    )


def main(argv: list[str]) -> int:
    """One worker: the console, devices (before TensorFlow starts), then the job."""
    from startup.console import configure_logging

    configure_logging()
    from models.training import execution, trainer

    with open(argv[0]) as f:
        job = TrainingJob.from_json(f.read())
    devices = job.config.training.train_devices
    if devices > 1 and not execution.gpus_visible():
        execution.logical_cpus(devices)
    from models.training.inputs import RecordDataAccessor

    try:
        trainer.train(job, RecordDataAccessor())
    except errors.PetunetError as problem:  # for the Trainer's process: no retry, its message
        _, index = execution.is_chief(execution.cluster_spec())
        with open(_error_file(job.model_run_dir, index), "w") as f:
            json.dump({"code": problem.exit_code, "message": str(problem)}, f)
        raise
    return 0


if __name__ == "__main__":
    import startup

    startup.start(filter_stderr=True, console_logging=True)
    sys.exit(main(sys.argv[1:]))
