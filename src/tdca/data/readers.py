"""Parsers for the on-disk dataset formats; each returns arrays or a :class:`Dataset`.

Every parser validates structure strictly (magic numbers, sizes, label ranges) and reports a
problem as a one-line :class:`DatasetError` naming the file, because a silently mis-parsed
dataset wastes a whole experiment. Nothing here touches the network or writes files, and
nothing is unpickled unless the caller explicitly opts in.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from tdca.data.checksums import IDX_STEMS, KnownIdx, verify_idx
from tdca.data.dataset import Dataset, DatasetError

PathLike = str | os.PathLike[str]

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/ "IDX format").
_IDX_DTYPES: Mapping[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32
CIFAR10_TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch.bin"


# --------------------------------------------------------------------------------------------
# Small helpers


def read_bytes(path: PathLike) -> bytes:
    """Read a whole file, turning OS errors into a DatasetError that names it."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror or e}") from e


def gunzip_if_needed(data: bytes, source: str) -> bytes:
    """Decompress gzip data (detected by magic bytes, not file name); pass other data through.

    CRC errors and truncation surface as DatasetError, so a half-downloaded file is reported
    rather than parsed.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(
            f"corrupt gzip file {source}: {e}; delete it and fetch/copy it again"
        ) from e


# --------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)


def parse_idx(data: bytes, source: str, *, ndim: int | None = None) -> np.ndarray:
    """Parse decompressed IDX bytes into an array in native byte order.

    Checks the magic number (two zero bytes, a known type code, the number of dimensions) and
    that the byte count matches the header exactly, so truncated or padded files are caught.
    """
    if len(data) < 4:
        raise DatasetError(f"{source} is too short ({len(data)} bytes) to be an IDX file")
    if data[0] != 0 or data[1] != 0:
        magic = int.from_bytes(data[:4], "big")
        raise DatasetError(
            f"{source} is not an IDX file: magic number 0x{magic:08x} does not start with 0x0000"
        )
    code, nd = data[2], data[3]
    dtype = _IDX_DTYPES.get(code)
    if dtype is None:
        raise DatasetError(f"{source}: unknown IDX data type code 0x{code:02x}")
    if nd == 0 or (ndim is not None and nd != ndim):
        raise DatasetError(
            f"{source}: IDX header says {nd} dimensions, expected {ndim or 'at least 1'}"
            " (images are idx3, labels idx1)"
        )
    header = 4 + 4 * nd
    if len(data) < header:
        raise DatasetError(f"{source} is truncated inside its IDX header")
    dims = struct.unpack(f">{nd}I", data[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        what = "is truncated" if len(data) < expected else "has trailing bytes"
        raise DatasetError(
            f"{source} {what}: header {tuple(dims)} needs {expected} bytes, file has {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def read_idx(path: PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file, gzip-compressed or raw."""
    source = str(path)
    return parse_idx(gunzip_if_needed(read_bytes(path), source), source, ndim=ndim)


def find_idx_files(directory: PathLike) -> dict[str, Path] | None:
    """Locate the four standard IDX files (raw or ``.gz``) in a folder.

    Returns None when none is present (so the caller can try another source) and raises when
    only some are, since a half-copied folder is a user mistake worth reporting.
    """
    d = Path(directory)
    found: dict[str, Path] = {}
    for stem in IDX_STEMS:
        for candidate in (d / stem, d / f"{stem}.gz"):
            if candidate.is_file():
                found[stem] = candidate
                break
    if not found:
        return None
    missing = [s for s in IDX_STEMS if s not in found]
    if missing:
        raise DatasetError(
            f"{d} has some IDX files but lacks {', '.join(missing)} (raw or .gz); "
            "copy the missing files there or remove the folder"
        )
    return found


def dataset_from_idx_blobs(
    name: str,
    blobs: Mapping[str, tuple[str, bytes]],
    *,
    known: Mapping[str, KnownIdx] | None = None,
    num_classes: int = 10,
    class_names: tuple[str, ...] = (),
    source: str = "",
) -> Dataset:
    """Build a Dataset from the four IDX files given as ``stem -> (source name, file bytes)``.

    Files are checked against ``known`` hashes (see :mod:`tdca.data.checksums`) before parsing.
    """
    arrays: dict[str, np.ndarray] = {}
    for stem in IDX_STEMS:
        if stem not in blobs:
            raise DatasetError(f"{name}: missing IDX file {stem}[.gz] in {source or 'input'}")
        src, raw = blobs[stem]
        payload = gunzip_if_needed(raw, src)
        verify_idx(src, raw, payload, known)
        arr = parse_idx(payload, src, ndim=3 if "images" in stem else 1)
        if arr.dtype != np.uint8:
            raise DatasetError(f"{src}: expected unsigned-byte IDX data (type 0x08)")
        arrays[stem] = arr
    splits = {}
    for split, (img, lab) in {"train": IDX_STEMS[:2], "test": IDX_STEMS[2:]}.items():
        x, y = arrays[img], arrays[lab]
        if len(x) != len(y):
            raise DatasetError(
                f"{blobs[img][0]} has {len(x)} images but {blobs[lab][0]} has {len(y)} labels"
            )
        if y.size and int(y.max()) >= num_classes:
            raise DatasetError(
                f"{blobs[lab][0]}: label {int(y.max())} is outside 0..{num_classes - 1}"
            )
        splits[split] = (x, y.astype(np.int32))
    return Dataset(
        name=name,
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        num_classes=num_classes,
        class_names=class_names,
        source=source,
    )


def read_idx_dir(
    directory: PathLike,
    name: str,
    *,
    known: Mapping[str, KnownIdx] | None = None,
    num_classes: int = 10,
    class_names: tuple[str, ...] = (),
) -> Dataset | None:
    """Read an MNIST-style folder of IDX files; None if it has none of them."""
    files = find_idx_files(directory)
    if files is None:
        return None
    blobs = {stem: (str(p), read_bytes(p)) for stem, p in files.items()}
    return dataset_from_idx_blobs(
        name,
        blobs,
        known=known,
        num_classes=num_classes,
        class_names=class_names,
        source=f"IDX files in {directory}",
    )


# --------------------------------------------------------------------------------------------
# CIFAR-10 binary release


def parse_cifar10_batch(
    data: bytes, source: str, *, records: int | None = 10000
) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR-10 binary batch into ``(N, 32, 32, 3)`` uint8 images and int32 labels.

    Each record is one label byte followed by 3072 channel-major (R, G, B planes of 32x32)
    pixel bytes; ``records`` is the required count per batch (None accepts any).
    """
    if len(data) == 0 or len(data) % CIFAR10_RECORD_BYTES:
        raise DatasetError(
            f"{source}: size {len(data)} is not a positive multiple of the "
            f"{CIFAR10_RECORD_BYTES}-byte CIFAR-10 record; the file is truncated or not a batch"
        )
    n = len(data) // CIFAR10_RECORD_BYTES
    if records is not None and n != records:
        raise DatasetError(f"{source}: has {n} records, expected {records} per CIFAR-10 batch")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(n, CIFAR10_RECORD_BYTES)
    labels = rec[:, 0].astype(np.int32)
    if int(labels.max()) > 9:
        bad = int(np.argmax(labels > 9))
        raise DatasetError(
            f"{source}: record {bad} has label {int(labels[bad])}, outside 0..9; "
            "the file is corrupt or not a CIFAR-10 batch"
        )
    images = rec[:, 1:].reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _cifar10_from_batches(
    batches: Mapping[str, tuple[str, bytes]], records: int | None, source: str
) -> Dataset:
    train = [
        parse_cifar10_batch(batches[b][1], batches[b][0], records=records)
        for b in CIFAR10_TRAIN_BATCHES
    ]
    src, data = batches[CIFAR10_TEST_BATCH]
    return _cifar10(train, parse_cifar10_batch(data, src, records=records), source)


def _cifar10(
    train: list[tuple[np.ndarray, np.ndarray]], test: tuple[np.ndarray, np.ndarray], source: str
) -> Dataset:
    """A CIFAR-10 Dataset from its five training batches and its test batch."""
    return Dataset(
        name="cifar10",
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=test[0],
        y_test=test[1],
        num_classes=10,
        class_names=CIFAR10_CLASSES,
        source=source,
    )


def read_cifar10_binary(directory: PathLike, *, records_per_batch: int | None = 10000) -> Dataset:
    """Read the official binary release folder ``cifar-10-batches-bin/``."""
    d = Path(directory)
    names = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        raise DatasetError(f"{d} lacks CIFAR-10 batch file(s) {', '.join(missing)}")
    batches = {n: (str(d / n), read_bytes(d / n)) for n in names}
    return _cifar10_from_batches(batches, records_per_batch, f"CIFAR-10 binary release {d}")


def read_cifar10_binary_tar(path: PathLike, *, records_per_batch: int | None = 10000) -> Dataset:
    """Read the official ``cifar-10-binary.tar.gz`` directly, without extracting it."""
    wanted = {*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH}
    batches: dict[str, tuple[str, bytes]] = {}
    for member, data in _iter_tar_files(path):
        base = PurePosixPath(member).name
        if base in wanted:
            batches[base] = (f"{path}:{member}", data)
    missing = sorted(wanted - batches.keys())
    if missing:
        raise DatasetError(f"{path} lacks CIFAR-10 batch member(s) {', '.join(missing)}")
    return _cifar10_from_batches(batches, records_per_batch, f"CIFAR-10 binary release {path}")


# --------------------------------------------------------------------------------------------
# CIFAR-10 python (pickle) release: opt-in only


def read_cifar10_pickle(directory: PathLike, *, allow_pickle: bool = False) -> Dataset:
    """Read the python release ``cifar-10-batches-py/`` -- only with ``allow_pickle=True``.

    Its batches are Python pickles, and unpickling executes whatever code the file contains, so
    a tampered download could run arbitrary commands. Prefer the binary release.
    """
    d = Path(directory)
    if not allow_pickle:
        raise DatasetError(
            f"refusing to unpickle {d / 'data_batch_1'}: the CIFAR-10 python release is pickled "
            "and unpickling runs arbitrary code from the file; use the binary release "
            "(cifar-10-batches-bin) or pass allow_pickle=True if you trust this file"
        )
    train = [_load_pickle_batch(d / f"data_batch_{i}") for i in range(1, 6)]
    source = f"CIFAR-10 python release {d} (unpickled, allow_pickle=True)"
    return _cifar10(train, _load_pickle_batch(d / "test_batch"), source)


def _load_pickle_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the caller opted in via allow_pickle
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DatasetError(f"cannot read CIFAR-10 pickle {path}: {e}") from e
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a dict batch, got {type(batch).__name__}")
    data, labels = _batch_item(batch, "data"), _batch_item(batch, "labels")
    data = np.asarray(data) if data is not None else None
    if data is None or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (N, 3072)")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{path}: 'labels' is not a list of integers") from e
    if y.shape != (len(data),) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise DatasetError(f"{path}: 'labels' must be {len(data)} integers in 0..9")
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, y.astype(np.int32)


def _batch_item(batch: dict, key: str) -> object:
    """Batch keys are bytes when pickled by Python 2 (the official files), str otherwise."""
    return batch[key.encode()] if key.encode() in batch else batch.get(key)


# --------------------------------------------------------------------------------------------
# Image folders and tar archives: train|test/<class>/<file>.(jpg|jpeg|png)


@dataclass(frozen=True)
class _ImageEntry:
    split: str
    label: str
    filename: str
    source: str  # shown in errors: path, or "archive:member"
    fetch: Callable[[], bytes]


def order_classes(names: Iterable[str]) -> tuple[str, ...]:
    """Official CIFAR-10 label order when the names are exactly its 10 classes, else sorted.

    The official order happens to be alphabetical too, but it is pinned explicitly so the
    standard label ids never depend on that coincidence (or on locale-aware sorting).
    """
    unique = set(names)
    if unique == set(CIFAR10_CLASSES):
        return CIFAR10_CLASSES
    return tuple(sorted(unique))


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def read_image_folder(root: PathLike, *, name: str | None = None) -> Dataset:
    """Read ``root/{train,test}/<class>/*.{jpg,jpeg,png}`` into a Dataset."""
    r = Path(root)
    entries: list[_ImageEntry] = []
    for split in ("train", "test"):
        split_dir = r / split
        if not split_dir.is_dir():
            raise DatasetError(
                f"{r} has no '{split}' folder; expected {r}/{{train,test}}/<class>/<image>"
            )
        for class_dir in sorted(split_dir.iterdir()):
            if not class_dir.is_dir() or class_dir.name.startswith("."):
                continue
            for f in sorted(class_dir.iterdir()):
                if _is_image_name(f.name) and f.is_file():
                    entries.append(
                        _ImageEntry(split, class_dir.name, f.name, str(f), _file_reader(f))
                    )
    return _dataset_from_images(entries, name or r.name, f"image folder {r}", str(r))


def _file_reader(path: Path) -> Callable[[], bytes]:
    return lambda: read_bytes(path)


def read_image_tar(path: PathLike, *, name: str | None = None) -> Dataset:
    """Read a (possibly compressed) tar of ``[prefix/]{train,test}/<class>/<image>`` members.

    The archive is streamed once in member order and nothing is extracted to disk, so it is
    fast on a gzipped tar and immune to path-traversal member names.
    """
    entries: list[_ImageEntry] = []
    prefixes: set[tuple[str, ...]] = set()
    for member, data in _iter_tar_files(path, keep=_is_image_member):
        parts = _member_parts(member)
        prefixes.add(parts[:-3])
        entries.append(
            _ImageEntry(parts[-3], parts[-2], parts[-1], f"{path}:{member}", _const(data))
        )
    if len(prefixes) > 1:
        shown = ", ".join(sorted("/".join(p) or "." for p in prefixes))
        raise DatasetError(f"{path} mixes several top-level folders ({shown}); keep one layout")
    default = Path(path).name.split(".")[0]
    return _dataset_from_images(entries, name or default, f"image archive {path}", str(path))


def _const(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _member_parts(member: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(member).parts if p not in (".", "/"))


def _is_image_member(member: str) -> bool:
    parts = _member_parts(member)
    return (
        len(parts) >= 3
        and parts[-3] in ("train", "test")
        and not parts[-2].startswith(".")
        and _is_image_name(parts[-1])
    )


def _iter_tar_files(
    path: PathLike, keep: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, bytes)`` of regular files, streaming the archive once."""
    try:
        with tarfile.open(path, mode="r:*") as tf:
            for m in tf:
                if not m.isreg() or (keep is not None and not keep(m.name)):
                    continue
                f = tf.extractfile(m)
                if f is None:
                    continue
                yield m.name, f.read()
    except FileNotFoundError as e:
        raise DatasetError(f"archive {path} does not exist") from e
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DatasetError(f"cannot read archive {path}: {e}; it is corrupt or truncated") from e


def _dataset_from_images(entries: list[_ImageEntry], name: str, source: str, where: str) -> Dataset:
    """Decode images in a deterministic order (class id, then file name) into one array."""
    by_split = {s: [e for e in entries if e.split == s] for s in ("train", "test")}
    for split, items in by_split.items():
        if not items:
            raise DatasetError(
                f"{where} has no {split} images; expected {split}/<class>/<file>."
                f"{{{','.join(x.lstrip('.') for x in IMAGE_EXTENSIONS)}}}"
            )
    train_classes = {e.label for e in by_split["train"]}
    test_classes = {e.label for e in by_split["test"]}
    if train_classes != test_classes:
        diff = sorted(train_classes ^ test_classes)
        raise DatasetError(f"{where}: train and test class folders differ ({', '.join(diff)})")
    classes = order_classes(train_classes)
    index = {c: i for i, c in enumerate(classes)}
    seen: set[tuple[str, str, str]] = set()
    for e in entries:
        key = (e.split, e.label, e.filename)
        if key in seen:
            raise DatasetError(f"{where}: duplicate image {e.source}")
        seen.add(key)

    decoded: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    size: tuple[int, int] | None = None  # (width, height) of the first image decoded
    first_source = ""
    for split, items in by_split.items():
        items.sort(key=lambda e: (index[e.label], e.filename))
        gray = np.zeros(len(items), dtype=bool)
        x = np.empty((0,), dtype=np.uint8)
        for i, e in enumerate(items):
            img = _decode_image(e)
            wh = (img.shape[1], img.shape[0])
            if size is None:
                size, first_source = wh, e.source
            if wh != size:
                raise DatasetError(
                    f"{e.source} is {wh[0]}x{wh[1]} but {first_source} is {size[0]}x{size[1]}; "
                    "all images must have the same size"
                )
            if i == 0:
                x = np.empty((len(items), size[1], size[0], 3), dtype=np.uint8)
            if img.ndim == 2:
                x[i, :, :, 0] = img
                gray[i] = True
            else:
                x[i] = img
        labels = np.fromiter((index[e.label] for e in items), dtype=np.int32, count=len(items))
        decoded[split] = (x, gray, labels)

    all_gray = all(gray.all() for _, gray, _ in decoded.values())
    out: dict[str, np.ndarray] = {}
    for split, (x, gray, labels) in decoded.items():
        if all_gray:
            x = np.ascontiguousarray(x[..., 0])
        elif gray.any():
            x[gray, :, :, 1] = x[gray, :, :, 0]  # L -> RGB replicates the gray channel
            x[gray, :, :, 2] = x[gray, :, :, 0]
        out[f"x_{split}"], out[f"y_{split}"] = x, labels
    return Dataset(
        name=name,
        num_classes=len(classes),
        class_names=classes,
        source=source,
        **out,
    )


_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def _decode_image(e: _ImageEntry) -> np.ndarray:
    """Decode to (H, W) uint8 for grayscale modes or (H, W, 3) uint8 RGB otherwise."""
    data = e.fetch()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            target = "L" if im.mode in _GRAY_MODES else "RGB"
            return np.asarray(im if im.mode == target else im.convert(target), dtype=np.uint8)
    except UnidentifiedImageError as err:  # its message names only an in-memory buffer
        raise DatasetError(
            f"cannot decode image {e.source}: not an image Pillow can identify (damaged, cut "
            "short, or another format)"
        ) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise DatasetError(f"cannot decode image {e.source}: {err}") from err
    except Image.DecompressionBombError as err:
        raise DatasetError(f"refusing oversized image {e.source}: {err}") from err


# --------------------------------------------------------------------------------------------
# Generic .npz


NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: PathLike, *, name: str | None = None) -> Dataset:
    """Read a generic ``.npz`` with ``x_train, y_train, x_test, y_test`` (never unpickles).

    Images may be uint8 (kept), another integer type with values in 0..255 (cast to uint8), or
    floats in [0, 1] (kept as float32, so pre-normalised data is not re-quantised); floats outside
    [0, 1] are rejected because their scale is ambiguous. Shapes (N, H, W), (N, H, W, 1) and
    (N, H, W, 3) are images; (N, D) is a flat feature vector per example (for the MLPs, not the
    CNN), under the same value rules. Labels must be non-negative integers, shape (N,) or (N, 1).
    ``num_classes`` is the optional scalar key of that name, else ``max(label) + 1``; an optional
    ``class_names`` string array is kept.
    """
    p = Path(path)
    try:
        loaded = np.load(p, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DatasetError(
                f"{p} holds a single array, not an .npz archive; save it with "
                f"np.savez(path, {', '.join(f'{k}=...' for k in NPZ_KEYS)})"
            )
        with loaded as z:
            files = set(z.files)
            missing = [k for k in NPZ_KEYS if k not in files]
            if missing:
                raise DatasetError(
                    f"{p} lacks key(s) {', '.join(missing)}; found {', '.join(sorted(files))} "
                    f"(needs {', '.join(NPZ_KEYS)})"
                )
            raw = {k: z[k] for k in files if k in (*NPZ_KEYS, "num_classes", "class_names")}
    except DatasetError:
        raise
    except FileNotFoundError as e:
        raise DatasetError(f"npz file {p} does not exist") from e
    except ValueError as e:
        if "Object arrays" in str(e):
            raise DatasetError(
                f"{p} contains object arrays, which would need unpickling (unsafe); re-save "
                "it with plain numeric arrays"
            ) from e
        if "pickle" in str(e):  # numpy's message invites unpickling; ours says why not
            raise DatasetError(
                f"cannot read {p} as .npz: it is neither a zip nor a .npy file (pickles are "
                "never loaded)"
            ) from e
        raise DatasetError(f"cannot read {p} as .npz: {e}") from e
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as e:
        raise DatasetError(f"cannot read {p} as .npz: {e}") from e

    arrays = {}
    for split in ("train", "test"):
        x = _npz_images(raw[f"x_{split}"], f"{p}[x_{split}]")
        y = _npz_labels(raw[f"y_{split}"], f"{p}[y_{split}]")
        if len(x) != len(y):
            raise DatasetError(f"{p}: x_{split} has {len(x)} examples but y_{split} has {len(y)}")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DatasetError(
            f"{p}: x_train images {arrays['x_train'].shape[1:]} and x_test images "
            f"{arrays['x_test'].shape[1:]} differ in shape"
        )
    if arrays["x_train"].dtype != arrays["x_test"].dtype:
        raise DatasetError(f"{p}: x_train and x_test must both be uint8 or both float in [0, 1]")
    top = max((int(y.max()) for y in (arrays["y_train"], arrays["y_test"]) if y.size), default=0)
    num_classes = top + 1
    if "num_classes" in raw:
        nc = raw["num_classes"]
        if nc.shape != () or nc.dtype.kind not in "iu" or int(nc) <= top:
            raise DatasetError(
                f"{p}[num_classes] must be an integer scalar > the largest label ({top})"
            )
        num_classes = int(nc)
    else:
        _check_label_coverage(p, arrays["y_train"], arrays["y_test"], num_classes)
    if num_classes < 2:  # every label 0: 100% by predicting it, and nothing to learn
        raise DatasetError(
            f"{p}: every label is 0, so there is one class and nothing to classify; "
            "a classification data set needs labels of at least two classes"
        )
    class_names: tuple[str, ...] = ()
    if "class_names" in raw:
        cn = raw["class_names"]
        if cn.ndim != 1 or cn.dtype.kind != "U" or len(cn) != num_classes:
            raise DatasetError(f"{p}[class_names] must be {num_classes} strings")
        class_names = tuple(str(c) for c in cn)
    return Dataset(
        name=name or p.stem,
        num_classes=num_classes,
        class_names=class_names,
        source=f"npz file {p}",
        **arrays,
    )


def _check_label_coverage(p: Path, y_train: np.ndarray, y_test: np.ndarray, n: int) -> None:
    """Without a ``num_classes`` key the classes are 0..max(label): labels with gaps
    ({0, 5}: four classes no example has, which the output layer still learns to avoid) or
    a class only the test set has would train another problem than the user's, silently."""
    seen = set(np.unique(y_train).tolist())
    absent = sorted(set(range(n)) - seen - set(np.unique(y_test).tolist()))
    only_test = sorted(set(np.unique(y_test).tolist()) - seen)
    if not absent and not only_test:
        return
    if absent:
        raise DatasetError(
            f"{p}: the labels leave classes {_ranges(absent)} of 0..{n - 1} without any "
            "example; relabel to 0..C-1 (np.unique(y, return_inverse=True) on train and test "
            "together), or, if those classes are meant, add the scalar key num_classes"
        )
    raise DatasetError(
        f"{p}: class(es) {_ranges(only_test)} appear in y_test but never in y_train, so no "
        "training can learn them; drop those test examples, or add the scalar key "
        "num_classes to keep them (they then count as errors)"
    )


def _ranges(values: list[int]) -> str:
    """[1, 2, 3, 4, 7] -> '1-4, 7' (a few at most; many are summarised)."""
    parts: list[tuple[int, int]] = []
    for v in values:
        if parts and v == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], v)
        else:
            parts.append((v, v))
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in parts]
    return ", ".join(text[:6]) + (f" and {len(text) - 6} more ranges" if len(text) > 6 else "")


def _npz_images(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if not (x.ndim in (2, 3) or (x.ndim == 4 and x.shape[-1] == 3)):
        raise DatasetError(
            f"{where} has shape {x.shape}; expected images (N, H, W), (N, H, W, 1) or "
            "(N, H, W, 3), or flat feature vectors (N, D)"
        )
    if len(x) == 0:
        raise DatasetError(f"{where} holds no images")
    if 0 in x.shape[1:]:
        raise DatasetError(f"{where} has shape {x.shape}: an example with no values")
    if x.dtype.kind in "iu":
        if x.size and (int(x.min()) < 0 or int(x.max()) > 255):
            raise DatasetError(f"{where}: integer pixels must be in 0..255")
        if x.size and int(x.max()) == 1:  # integers are read as 0..255: 1 would be 1/255
            raise DatasetError(
                f"{where}: integer pixels only 0 and 1, which read as 0..255 would be all but "
                "black (1/255); store them as 0 and 255 (x * 255) or as floats 0.0 and 1.0"
            )
        return np.ascontiguousarray(x) if x.dtype == np.uint8 else x.astype(np.uint8)
    if x.dtype.kind == "f":
        if x.size and not np.isfinite(x).all():
            raise DatasetError(f"{where}: contains NaN or infinite pixels")
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if lo < 0.0 or hi > 1.0:
            fix = "min-max scale each feature" if x.ndim == 2 else "e.g. divide by 255"
            raise DatasetError(
                f"{where}: float values span [{lo:g}, {hi:g}]; store uint8 0..255 or floats in "
                f"[0, 1] ({fix})"
            )
        return x.astype(np.float32)
    raise DatasetError(f"{where} has dtype {x.dtype}; expected uint8 or float in [0, 1]")


def _npz_labels(y: np.ndarray, where: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DatasetError(
            f"{where} has dtype {y.dtype} and shape {y.shape}; expected 1-D integer labels"
        )
    if y.size and int(y.min()) < 0:
        raise DatasetError(f"{where}: labels must be non-negative, found {int(y.min())}")
    if y.size and int(y.max()) > np.iinfo(np.int32).max:
        raise DatasetError(f"{where}: labels do not fit in int32")
    return y.astype(np.int32)


# --------------------------------------------------------------------------------------------
# Fingerprints (used to notice that a cached conversion's source has changed)


def source_fingerprint(path: PathLike) -> dict[str, int | str]:
    """Cheap identity of a source file or folder: resolved path, total size, newest mtime."""
    p = Path(path)
    total, newest, count = 0, 0, 0
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            for dirpath, _dirs, files in os.walk(p):
                for f in files:
                    s = os.stat(os.path.join(dirpath, f))
                    total, newest, count = total + s.st_size, max(newest, s.st_mtime_ns), count + 1
        else:
            total, newest, count = st.st_size, st.st_mtime_ns, 1
    except OSError as e:
        raise DatasetError(f"cannot stat {p}: {e.strerror or e}") from e
    return {"path": str(p.resolve()), "bytes": total, "mtime_ns": newest, "files": count}
