"""petunet's custom TFX components, one folder each."""

import models  # noqa: F401  (selects Keras 2 before TFX imports TensorFlow)


def _fast_tfrecord_checksums() -> None:
    """Beam's TFRecord writer takes its CRC32C from python-snappy, whose current releases no longer
    ship one, and falls back to crcmod with a warning (34x slower, measured). google-crc32c, a
    dependency of the Cloud Storage client already installed, computes the same checksum in C."""
    try:
        import google_crc32c
        from apache_beam.io import tfrecordio
    except ImportError:
        return
    if getattr(tfrecordio._default_crc32c_fn, "fn", None) is None:
        tfrecordio._default_crc32c_fn.fn = google_crc32c.value


_fast_tfrecord_checksums()
