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
        paths = sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and _is_file_or_broken_link(p))
        if not paths:
            raise ParityError(f"{data}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    elif data.suffix.lower() in IMAGE_EXTENSIONS:
        root, paths = data.parent, [data]
    else:
        root = data.parent
        paths = _read_list(data)
        if not paths:
            raise ParityError(f"{data}: the image list names no paths")
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
    return Dataset(source=source, items=[ImageItem(path=p, id=_printable(p.name)) for p in paths])


def _is_file_or_broken_link(path: Path) -> bool:
    """Regular files, and symlinks to nothing (kept so the report names them); never FIFOs or devices."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def _printable(text: str) -> str:
    """A file name that is not valid UTF-8 shown with backslash escapes, so reports can always be written."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _image_id(path: Path, root: Path) -> str:
    try:
        return _printable(path.relative_to(root).as_posix())
    except ValueError:
        return _printable(path.as_posix())


def _read_list(list_file: Path) -> list[Path]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ParityError(f"{list_file}: not an image folder, an image, or a text file of image paths") from None
    except OSError as exc:
        raise ParityError(f"{list_file}: cannot read the image list ({exc.strerror or exc})") from None
    entries = [line.strip() for line in lines]
    return [list_file.parent / entry for entry in entries if entry and not entry.startswith("#")]


def read_labels_csv(path: Path) -> tuple[dict[str, int], dict[int, str]]:
    """``file -> class_index`` and ``class_index -> name`` from a labels CSV."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = {(name or "").strip() for name in reader.fieldnames or []}
            rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParityError(f"{path}: cannot read labels ({getattr(exc, 'strerror', None) or exc})") from None
    if not {"file", "class_index"} <= header:
        raise ParityError(f"{path}: labels CSV needs a header with columns file,class_index")
    if not rows:
        raise ParityError(f"{path}: labels CSV has a header but no rows")
    table: dict[str, int] = {}
    names: dict[int, str] = {}
    for number, row in enumerate(rows, start=2):
        try:
            index = int((row["class_index"] or "").strip())
        except (TypeError, ValueError):
            raise ParityError(f"{path}: line {number}: class_index {row['class_index']!r} is not an integer") from None
        table[(row["file"] or "").strip()] = index
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
