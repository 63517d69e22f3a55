"""File access for the readers: confined to the data root, bounded in size, never blocking.

Local paths are read directly, other schemes through TensorFlow's file systems (gs://, s3://,
hdfs://), so the same reader runs on a laptop and on Dataflow. A file is opened only when its
resolved path (symbolic links followed) lies inside the data root and it is a regular file no
larger than the limit: a list entry `../../x`, a link to /etc/passwd or /dev/zero, a FIFO, a
name too long or a link loop each become a reason, never a crash, a hang or a read outside.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from core.config import DataConfig

# Descriptions and list files are read with the config's default bound, examples with the run's.
DEFAULT_MAX_FILE_MB = DataConfig.max_file_mb
MB = 1 << 20


class UnreadableFile(ValueError):
    """A file that exists (or is named) but must not or cannot be read; the message says why."""


def is_remote(path: str) -> bool:
    return "://" in path


def join(root: str, relative: str) -> str:
    return posixpath.join(root, relative) if is_remote(root) else os.path.join(root, relative)


def _inside(root: str, relative: str) -> str:
    """The path of `relative` under `root`, refusing names that leave it (local: resolved)."""
    if "\x00" in relative:
        raise UnreadableFile(f"{relative!r}: the name holds a NUL byte")
    if os.path.isabs(relative) or ".." in relative.replace("\\", "/").split("/"):
        raise UnreadableFile(f"{relative}: outside the data root")
    path = join(root, relative)
    if is_remote(root):
        return path
    real_root = os.path.realpath(root)
    try:
        resolved = os.path.realpath(path, strict=False)
    except OSError as error:  # e.g. a link loop on some platforms
        raise UnreadableFile(f"{relative}: {os.strerror(error.errno or 0)}") from None
    if os.path.commonpath([real_root, resolved]) != real_root:
        raise UnreadableFile(f"{relative}: resolves outside the data root ({resolved})")
    return resolved


def read_in_root(root: str, relative: str, max_mb: float = DEFAULT_MAX_FILE_MB) -> bytes | None:
    """The bytes of `root/relative`, None when there is no such file.

    Raises UnreadableFile (a ValueError) naming the file and the reason for anything else.
    """
    path = _inside(root, relative)
    limit = int(max_mb * MB)
    if is_remote(path):
        return _read_remote(path, relative, limit)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ENOTDIR:
            return None
        raise UnreadableFile(f"{relative}: {os.strerror(error.errno or 0)}") from None
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(f"{relative}: not a regular file (a device, FIFO or socket)")
    if info.st_size > limit:
        raise UnreadableFile(
            f"{relative}: {info.st_size / MB:.0f} MB, over the {max_mb:g} MB limit (--max-file-mb)"
        )
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(f"{relative}: {os.strerror(error.errno or 0)}") from None
    if len(data) > limit:  # grew while being read
        raise UnreadableFile(f"{relative}: over the {max_mb:g} MB limit (--max-file-mb)")
    return data


def _read_remote(path: str, relative: str, limit: int) -> bytes | None:
    import tensorflow as tf

    try:
        size = tf.io.gfile.stat(path).length
    except tf.errors.NotFoundError:
        return None
    if size > limit:
        raise UnreadableFile(f"{relative}: {size / MB:.0f} MB, over the limit (--max-file-mb)")
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read(limit + 1)


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
