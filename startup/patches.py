"""Every reach into another library's internals, in one place, each checked against the library
version it was written for.

A patch names its library, the version its code was read from, why it exists and the upstream
change that retires it. `apply_all` (called by `startup.start`) refuses to patch a library of
another version with a message naming both versions: an upgrade shows what it breaks instead of
breaking it silently. `ONEDNN_QUERY` is no patch but a read of a private TensorFlow module, and is
checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata


class PatchVersionError(RuntimeError):
    """A library differs from the version a patch was written against."""


@dataclass(frozen=True)
class Patch:
    name: str
    package: str  # the distribution whose version is checked
    version: str  # the version (a prefix: "2.16" matches 2.16.2) the patch was written for
    why: str
    retired_by: str
    apply: Callable[[], None]

    def check(self, installed: Callable[[str], str] | None = None) -> None:
        found = (installed or metadata.version)(self.package)
        if found != self.version and not found.startswith(self.version + "."):
            raise PatchVersionError(
                f"petunet's patch {self.name!r} was written for {self.package} {self.version}, "
                f"and {self.package} {found} is installed: check {self.retired_by} and update or "
                "remove the patch in startup/patches.py"
            )


def _fast_tfrecord_checksums() -> None:
    import google_crc32c
    from apache_beam.io import tfrecordio

    if getattr(tfrecordio._default_crc32c_fn, "fn", None) is None:
        tfrecordio._default_crc32c_fn.fn = google_crc32c.value


def _keep_autograph_out_of_tf_keras() -> None:
    from tensorflow.python.autograph.core import config

    if not any(rule.matches("tf_keras") for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (config.DoNotConvert("tf_keras"), *config.CONVERSION_RULES)


def _cache_keys_without_beam_args() -> None:
    from tfx.orchestration.portable import cache_utils

    from startup.cache_key import without_beam_args_in_the_key

    cache_utils.get_cache_context = without_beam_args_in_the_key(cache_utils.get_cache_context)


TFRECORD_CHECKSUMS = Patch(
    "fast TFRecord checksums",
    "apache-beam",
    "2.59",
    "Beam's TFRecord writer takes its CRC32C from python-snappy, whose releases no longer ship "
    "one, and falls back to pure-Python crcmod; google-crc32c computes the same checksum in C",
    "apache_beam/io/tfrecordio.py's _default_crc32c_fn",
    _fast_tfrecord_checksums,
)
AUTOGRAPH_TF_KERAS = Patch(
    "AutoGraph leaves tf_keras alone",
    "tensorflow",
    "2.16",
    "TensorFlow 2.16's AutoGraph converts tf_keras (Keras 2) from source in every traced call; "
    "its later releases list DoNotConvert('tf_keras') themselves",
    "tensorflow/python/autograph/core/config.py's CONVERSION_RULES",
    _keep_autograph_out_of_tf_keras,
)
LOCAL_CACHE_KEY = Patch(
    "local cache keys without Beam flags",
    "tfx",
    "1.16",
    "TFX keys a local component's cache on its executor spec, which holds the run's Beam flags: "
    "a --beam-args change reran every component, the Trainer included (startup/cache_key.py)",
    "tfx/orchestration/portable/cache_utils.py's get_cache_context",
    _cache_keys_without_beam_args,
)
ONEDNN_QUERY = Patch(
    "whether oneDNN runs",
    "tensorflow",
    "2.16",
    "TensorFlow has no public call that says whether its CPU kernels are oneDNN's",
    "tensorflow/python/util/_pywrap_util_port's IsMklEnabled",
    lambda: None,  # read by onednn_enabled, nothing to change
)


def onednn_enabled() -> bool:
    """Whether TensorFlow runs oneDNN's CPU kernels in this process (decided when it loaded)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


# Applied in every process that starts through startup.start; LOCAL_CACHE_KEY by the local runner.
PROCESS_PATCHES = (TFRECORD_CHECKSUMS, AUTOGRAPH_TF_KERAS, ONEDNN_QUERY)
ALL = (*PROCESS_PATCHES, LOCAL_CACHE_KEY)


def apply(patches: tuple[Patch, ...]) -> None:
    """Checks every patch's library version first, then applies them."""
    for patch in patches:
        patch.check()
    for patch in patches:
        patch.apply()
