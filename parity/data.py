"""Image discovery and labels: a folder (recursive), a text file of paths, labels.csv or class subfolders."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from parity.errors import ParityError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})


@dataclass(frozen=True)
class ImageItem:
    """One image: its path, its id in reports (path relative to the data root) and its label."""

    path: Path
    id: str
    label: int | None = None


@dataclass
class Dataset:
    """The images to check, with the class names the labels file carries (if any)."""

    source: str
    items: list[ImageItem]
    class_names: dict[int, str] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return any(item.label is not None for item in self.items)


def discover(data: Path, labels: Path | None = None, labels_from_folders: bool = False, limit: int | None = None) -> Dataset:
    """Find images under ``data`` (a folder, searched recursively, or a text file with one path per line).

    Labels come from ``labels`` (CSV with columns ``file,class_index`` and optionally ``name``;
    ``file`` is matched against the image's id, then its file name) or, with
    ``labels_from_folders``, from each image's first-level subfolder: an integer folder name is the
    class index, otherwise the index in the sorted folder names (torchvision ``ImageFolder``).
    """
    if not data.exists():
        raise ParityError(f"{data}: no such file or folder")
    if data.is_dir():
        root = data
        paths = sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir())
    else:
        root = data.parent
        paths = _read_list(data)
    if not paths:
        raise ParityError(f"{data}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    if limit is not None:
        if limit < 1:
            raise ParityError("--limit must be at least 1")
        paths = paths[:limit]
    items = [ImageItem(path=p, id=_image_id(p, root)) for p in paths]
    class_names: dict[int, str] = {}
    if labels is not None:
        table, class_names = read_labels_csv(labels)
        items = [ImageItem(i.path, i.id, table.get(i.id, table.get(i.path.name))) for i in items]
        if not any(i.label is not None for i in items):
            raise ParityError(f"{labels}: no row matches any image file name under {data}")
    elif labels_from_folders:
        items, class_names = _label_from_folders(items)
    return Dataset(source=str(data), items=items, class_names=class_names)


def from_paths(paths: list[Path], source: str) -> Dataset:
    """An unlabelled dataset of the given files, identified by file name."""
    return Dataset(source=source, items=[ImageItem(path=p, id=p.name) for p in paths])


def _image_id(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _read_list(list_file: Path) -> list[Path]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParityError(f"{list_file}: cannot read the image list ({exc})") from None
    base = list_file.parent
    return [(base / line.strip()) if not Path(line.strip()).is_absolute() else Path(line.strip()) for line in lines if line.strip() and not line.startswith("#")]


def read_labels_csv(path: Path) -> tuple[dict[str, int], dict[int, str]]:
    """``file -> class_index`` and ``class_index -> name`` from a labels CSV."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParityError(f"{path}: cannot read labels ({exc})") from None
    if not rows or not {"file", "class_index"} <= set(rows[0]):
        raise ParityError(f"{path}: labels CSV needs a header with columns file,class_index")
    table: dict[str, int] = {}
    names: dict[int, str] = {}
    for number, row in enumerate(rows, start=2):
        try:
            index = int(row["class_index"])
        except (TypeError, ValueError):
            raise ParityError(f"{path}: line {number}: class_index {row['class_index']!r} is not an integer") from None
        table[row["file"]] = index
        if row.get("name"):
            names[index] = row["name"]
    return table, names


def _label_from_folders(items: list[ImageItem]) -> tuple[list[ImageItem], dict[int, str]]:
    folders = sorted({i.id.split("/")[0] for i in items if "/" in i.id})
    if not folders:
        raise ParityError("--labels-from-folders: the images are not in class subfolders")
    numeric = all(f.isdigit() for f in folders)
    index = {f: int(f) if numeric else n for n, f in enumerate(folders)}
    labelled = [ImageItem(i.path, i.id, index.get(i.id.split("/")[0]) if "/" in i.id else None) for i in items]
    return labelled, {} if numeric else {v: k for k, v in index.items()}
