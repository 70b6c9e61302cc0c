"""Image discovery and labels: folders, list files, labels.csv, class subfolders, --limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.images import write_images
from parity.data import discover
from parity.errors import ParityError


def test_folder_is_searched_recursively_and_sorted(tmp_path: Path) -> None:
    write_images(tmp_path / "b", count=2)
    write_images(tmp_path / "a" / "deep", count=1)
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = discover(tmp_path)
    assert [i.id for i in dataset.items] == ["a/deep/img000.jpg", "b/img000.jpg", "b/img001.png"]
    assert all(i.label is None for i in dataset.items)


def test_list_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", count=3)
    listing = tmp_path / "list.txt"
    listing.write_text("# chosen images\nimgs/img002.jpg\n\nimgs/img000.jpg\n")
    dataset = discover(listing)
    assert [i.id for i in dataset.items] == ["imgs/img002.jpg", "imgs/img000.jpg"]


def test_labels_csv_matches_by_relative_path_or_file_name(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", count=3)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,class_index,name\nimgs/img000.jpg,4,tench\nimg001.png,7,hen\n")
    dataset = discover(tmp_path, labels=labels)
    assert [i.label for i in dataset.items] == [4, 7, None]
    assert dataset.class_names == {4: "tench", 7: "hen"}


def test_labels_from_class_folders_follow_imagefolder_order(tmp_path: Path) -> None:
    write_images(tmp_path / "zebra", count=1)
    write_images(tmp_path / "ant", count=2)
    dataset = discover(tmp_path, labels_from_folders=True)
    assert [(i.id, i.label) for i in dataset.items] == [("ant/img000.jpg", 0), ("ant/img001.png", 0), ("zebra/img000.jpg", 1)]
    assert dataset.class_names == {0: "ant", 1: "zebra"}


def test_integer_class_folders_are_the_index(tmp_path: Path) -> None:
    write_images(tmp_path / "207", count=1)
    write_images(tmp_path / "3", count=1)
    assert sorted(i.label for i in discover(tmp_path, labels_from_folders=True).items) == [3, 207]


def test_limit_takes_the_first_images(tmp_path: Path) -> None:
    write_images(tmp_path, count=5)
    assert [i.id for i in discover(tmp_path, limit=2).items] == ["img000.jpg", "img001.png"]
    with pytest.raises(ParityError, match="--limit"):
        discover(tmp_path, limit=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [("a,b\n1,2\n", "needs a header"), ("file,class_index\nimg000.jpg,cat\n", "line 2: class_index 'cat'"), ("file,class_index\nother.jpg,1\n", "no row matches")],
)
def test_bad_labels_are_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    write_images(tmp_path / "imgs", count=1)
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    with pytest.raises(ParityError, match=message):
        discover(tmp_path / "imgs", labels=labels)


def test_the_core_and_cli_never_import_torch() -> None:
    code = "import sys, parity.cli, parity.api, parity.engine; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
