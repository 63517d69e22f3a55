"""Nothing is read from outside the data root, nothing hangs, one bad row never stops the rest:
each case is reported with its reason (the ExampleGen's file access and list files)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from components.example_gen import files
from components.example_gen.images import Ingested, Skipped
from components.example_gen.oxford import (
    OXFORD_PETS,
    ListEntry,
    MalformedRow,
    check_layout,
    ingest_entry,
    list_lines,
    parse_list_line,
)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _trimap() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 2, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def root(tmp_path) -> str:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "annotations" / "trimaps").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(_jpeg())  # outside the data root
    (data / "images" / "good.jpg").write_bytes(_jpeg())
    (data / "annotations" / "trimaps" / "good.png").write_bytes(_trimap())
    for name in ("outside", "zero", "fifo", "loop", "big"):
        (data / "annotations" / "trimaps" / f"{name}.png").write_bytes(_trimap())
    os.symlink(tmp_path / "secret.jpg", data / "images" / "outside.jpg")
    os.symlink("/dev/zero", data / "images" / "zero.jpg")
    os.mkfifo(data / "images" / "fifo.jpg")
    os.symlink(data / "images" / "loop.jpg", data / "images" / "loop.jpg")
    (data / "images" / "big.jpg").write_bytes(_jpeg() + b"\0" * (2 << 20))
    return str(data)


def _ingest(root: str, name: str, max_file_mb: float = 1.0) -> Ingested | Skipped:
    return ingest_entry(root, ListEntry(name, 1, 1, 1), OXFORD_PETS, max_file_mb)


@pytest.mark.parametrize(
    "name,reason",
    [
        ("outside", "resolves outside the data root"),
        ("zero", "resolves outside the data root (/dev/zero)"),
        ("fifo", "not a regular file"),
        ("loop", "Too many levels of symbolic links"),
        ("big", "over the 1 MB limit (--max-file-mb)"),
        ("x" * 300, "File name too long"),
    ],
)
def test_each_unsafe_file_is_skipped_with_its_reason(root, name, reason):
    result = _ingest(root, name)
    assert isinstance(result, Skipped), result
    assert reason in result.reason and "unreadable" in result.reason


def test_a_good_file_is_still_read(root):
    assert isinstance(_ingest(root, "good"), Ingested)


def test_names_that_leave_the_root_or_hold_a_nul_are_refused(root):
    with pytest.raises(files.UnreadableFile, match="outside the data root"):
        files.read_in_root(root, "images/../../secret.jpg")
    with pytest.raises(files.UnreadableFile, match="NUL"):
        files.read_in_root(root, "images/a\x00b.jpg")
    for line in ("../../../x 1 1 1", "a/b 1 1 1", "a\x00b 1 1 1"):
        with pytest.raises(MalformedRow, match="not a file name"):
            parse_list_line(line)


def test_list_files_name_the_file_and_line_of_undecodable_bytes_and_drop_a_bom(root):
    lists = os.path.join(root, "annotations")
    with open(os.path.join(lists, "trainval.txt"), "wb") as f:
        f.write(b"\xef\xbb\xbfgood 1 1 1\nbeagle_2 1 2 3\ncaf\xe9_1 1 1 1\n")
    with open(os.path.join(lists, "test.txt"), "wb") as f:
        f.write(b"\xef\xbb\xbfgood 1 1 1\n")
    with pytest.raises(ValueError, match=r"trainval.txt, line 3: not UTF-8 text \(byte 0xe9"):
        check_layout(root)
    lines = list_lines(root, "annotations/test.txt")
    assert lines == ["good 1 1 1"] and parse_list_line(lines[0]).name == "good"


def test_the_layout_rows_drop_a_bom_and_survive_bad_bytes():
    from components.example_gen.oxford import _list_rows

    rows = list(_list_rows(b"\xef\xbb\xbfgood 1 1 1", 0, "annotations/test.txt"))
    assert rows == [("good", (0, "good 1 1 1", "annotations/test.txt"))]
    assert list(_list_rows(b"caf\xe9 1 1 1", 0, "t"))[0][0] == "caf\ufffd"
