"""File access for the readers: local paths directly, other schemes through TensorFlow's file
systems (gs://, s3://, hdfs://), so the same reader runs on a laptop and on Dataflow."""

from __future__ import annotations

import os
import posixpath


def is_remote(path: str) -> bool:
    return "://" in path


def join(root: str, relative: str) -> str:
    return posixpath.join(root, relative) if is_remote(root) else os.path.join(root, relative)


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if not is_remote(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError):
            return None
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    except tf.errors.NotFoundError:
        return None


def is_dir(path: str) -> bool:
    if not is_remote(path):
        return os.path.isdir(path)
    import tensorflow as tf

    return tf.io.gfile.isdir(path)


def list_dir(path: str) -> list[str]:
    """The names in a folder (not recursive)."""
    if not is_remote(path):
        return os.listdir(path)
    import tensorflow as tf

    return [name.rstrip("/") for name in tf.io.gfile.listdir(path)]
