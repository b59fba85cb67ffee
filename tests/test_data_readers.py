"""Format readers of tdca.data on tiny synthetic files: good input parses, bad input is named."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tdca.data import (
    CIFAR10_CLASSES,
    Dataset,
    DatasetError,
    read_cifar10_binary,
    read_cifar10_binary_tar,
    read_cifar10_pickle,
    read_idx,
    read_image_folder,
    read_image_tar,
    read_npz,
)
from tdca.data.checksums import KnownIdx, sha256_bytes, verify_idx
from tdca.data.readers import order_classes, parse_idx, read_idx_dir

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """Serialise an array as IDX (big-endian payload)."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(big).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def cifar_batch(n: int, labels: np.ndarray | None = None) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Records of label + channel-major pixels, and the expected (N,32,32,3) images."""
    y = RNG.integers(0, 10, n).astype(np.uint8) if labels is None else labels.astype(np.uint8)
    x = RNG.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    planes = x.transpose(0, 3, 1, 2).reshape(n, 3072)
    return np.concatenate([y[:, None], planes], axis=1).tobytes(), x, y


# --------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels_roundtrip(tmp_path: Path, gz: bool) -> None:
    x = RNG.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    y = np.array([0, 9, 3, 3, 1], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    fx = write(tmp_path / f"x{suffix}", gzip.compress(idx_bytes(x)) if gz else idx_bytes(x))
    fy = write(tmp_path / f"y{suffix}", gzip.compress(idx_bytes(y)) if gz else idx_bytes(y))
    np.testing.assert_array_equal(read_idx(fx, ndim=3), x)
    np.testing.assert_array_equal(read_idx(fy, ndim=1), y)


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
)
@settings(max_examples=40, deadline=None)
def test_idx_parse_any_shape_and_type(shape: list[int], code: int) -> None:
    arr = (np.arange(int(np.prod(shape))) % 100).reshape(shape)
    out = parse_idx(idx_bytes(arr, code), "mem")
    assert out.shape == tuple(shape)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_names_file(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1]
    f = write(tmp_path / "short-idx3", gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=r"short-idx3 is truncated"):
        read_idx(f)


def test_idx_extra_bytes(tmp_path: Path) -> None:
    f = write(tmp_path / "long", idx_bytes(np.zeros((3,), np.uint8)) + b"\0")
    with pytest.raises(DatasetError, match=r"long has trailing bytes"):
        read_idx(f)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x00", "magic number 0x01000801"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x00", "unknown IDX data type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x00", "truncated inside its IDX header"),
        (b"\x00\x00", "too short"),
    ],
)
def test_idx_bad_header(tmp_path: Path, data: bytes, match: str) -> None:
    f = write(tmp_path / "bad.idx", data)
    with pytest.raises(DatasetError, match=match) as e:
        read_idx(f)
    assert "bad.idx" in str(e.value)


def test_idx_wrong_number_of_dimensions(tmp_path: Path) -> None:
    f = write(tmp_path / "labels", idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    with pytest.raises(DatasetError, match="3 dimensions, expected 1"):
        read_idx(f, ndim=1)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_idx_corrupt_gzip(tmp_path: Path, damage: str) -> None:
    gz = bytearray(gzip.compress(idx_bytes(RNG.integers(0, 256, (20, 8, 8), dtype=np.uint8))))
    if damage == "truncate":
        gz = gz[: len(gz) // 2]
    else:
        gz[-6] ^= 0xFF  # inside the CRC32 trailer
    f = write(tmp_path / "x.gz", bytes(gz))
    with pytest.raises(DatasetError, match=r"corrupt gzip file .*x\.gz"):
        read_idx(f)


def _mnist_like_dir(root: Path, gz: bool = True) -> dict[str, bytes]:
    files = {
        "train-images-idx3-ubyte": idx_bytes(RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(6, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(np.array([9, 0], dtype=np.uint8)),
    }
    for stem, data in files.items():
        if gz:
            write(root / f"{stem}.gz", gzip.compress(data))
        else:
            write(root / stem, data)
    return files


def test_idx_dir_reads_four_files(tmp_path: Path) -> None:
    _mnist_like_dir(tmp_path, gz=False)
    ds = read_idx_dir(tmp_path, "toy")
    assert ds is not None
    assert ds.x_train.shape == (6, 28, 28) and ds.x_test.shape == (2, 28, 28)
    assert ds.y_train.dtype == np.int32 and ds.y_test.tolist() == [9, 0]
    assert read_idx_dir(tmp_path / "empty", "toy") is None


def test_idx_dir_partial_is_an_error(tmp_path: Path) -> None:
    _mnist_like_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="lacks t10k-labels-idx1-ubyte"):
        read_idx_dir(tmp_path, "toy")


def test_idx_dir_count_mismatch(tmp_path: Path) -> None:
    _mnist_like_dir(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(DatasetError, match=r"2 images but .*t10k-labels.* 3 labels"):
        read_idx_dir(tmp_path, "toy")


def test_idx_dir_checksums(tmp_path: Path) -> None:
    files = _mnist_like_dir(tmp_path)
    gz_hashes = {s: sha256_bytes((tmp_path / f"{s}.gz").read_bytes()) for s in files}
    raw_hashes = {s: sha256_bytes(d) for s, d in files.items()}
    by_gz = {s: KnownIdx(gz_hashes[s], "0" * 64) for s in files}
    by_raw = {s: KnownIdx("0" * 64, raw_hashes[s]) for s in files}
    assert read_idx_dir(tmp_path, "toy", known=by_gz) is not None
    assert read_idx_dir(tmp_path, "toy", known=by_raw) is not None
    wrong = dict(by_raw, **{"t10k-labels-idx1-ubyte": KnownIdx("1" * 64, "2" * 64)})
    with pytest.raises(DatasetError, match=r"checksum mismatch for .*t10k-labels-idx1-ubyte\.gz"):
        read_idx_dir(tmp_path, "toy", known=wrong)


def test_verify_idx_ignores_unknown_names() -> None:
    verify_idx("other-file", b"x", b"x", {"train-images-idx3-ubyte": KnownIdx("a", "b")})


# ------------------------------------------------------------------------------ CIFAR binary


def _cifar_dir(root: Path, n: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i in range(1, 6):
        data, x, y = cifar_batch(n)
        write(root / f"data_batch_{i}.bin", data)
        xs.append(x)
        ys.append(y)
    data, xt, yt = cifar_batch(n)
    write(root / "test_batch.bin", data)
    return np.concatenate(xs), np.concatenate(ys), xt, yt


def test_cifar_binary_good(tmp_path: Path) -> None:
    x, y, xt, yt = _cifar_dir(tmp_path)
    ds = read_cifar10_binary(tmp_path, records_per_batch=2)
    assert ds.x_train.shape == (10, 32, 32, 3) and ds.x_test.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(ds.x_train, x)  # channel-major planes -> HWC
    np.testing.assert_array_equal(ds.y_train, y)
    np.testing.assert_array_equal(ds.x_test, xt)
    np.testing.assert_array_equal(ds.y_test, yt)
    assert ds.class_names == CIFAR10_CLASSES and ds.features("test").shape == (2, 3072)


def test_cifar_binary_requires_10000_records_by_default(tmp_path: Path) -> None:
    _cifar_dir(tmp_path)
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin: has 2 records, expected 10000"):
        read_cifar10_binary(tmp_path)


def test_cifar_binary_wrong_size(tmp_path: Path) -> None:
    _cifar_dir(tmp_path)
    f = tmp_path / "data_batch_3.bin"
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"data_batch_3\.bin: size 6141 is not .* multiple"):
        read_cifar10_binary(tmp_path, records_per_batch=2)


def test_cifar_binary_bad_label(tmp_path: Path) -> None:
    _cifar_dir(tmp_path)
    write(tmp_path / "test_batch.bin", cifar_batch(2, labels=np.array([1, 10]))[0])
    with pytest.raises(DatasetError, match=r"test_batch\.bin: record 1 has label 10"):
        read_cifar10_binary(tmp_path, records_per_batch=2)


def test_cifar_binary_missing_batch(tmp_path: Path) -> None:
    _cifar_dir(tmp_path)
    (tmp_path / "data_batch_5.bin").unlink()
    with pytest.raises(DatasetError, match=r"lacks CIFAR-10 batch file\(s\) data_batch_5\.bin"):
        read_cifar10_binary(tmp_path, records_per_batch=2)


def test_cifar_binary_tar(tmp_path: Path) -> None:
    x, y, _, _ = _cifar_dir(tmp_path / "src" / "cifar-10-batches-bin")
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    ds = read_cifar10_binary_tar(archive, records_per_batch=2)
    np.testing.assert_array_equal(ds.x_train, x)
    np.testing.assert_array_equal(ds.y_train, y)


# ------------------------------------------------------------------------------ CIFAR pickle


def _pickle_dir(root: Path) -> None:
    root.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"data": RNG.integers(0, 256, (3, 3072), dtype=np.uint8),
            b"labels": [0, 5, 9],
        }
        (root / name).write_bytes(pickle.dumps(batch))


def test_cifar_pickle_refused_without_opt_in(tmp_path: Path) -> None:
    _pickle_dir(tmp_path / "cifar-10-batches-py")
    with pytest.raises(DatasetError, match=r"refusing to unpickle .*arbitrary code"):
        read_cifar10_pickle(tmp_path / "cifar-10-batches-py")


def test_cifar_pickle_with_opt_in(tmp_path: Path) -> None:
    _pickle_dir(tmp_path / "cifar-10-batches-py")
    ds = read_cifar10_pickle(tmp_path / "cifar-10-batches-py", allow_pickle=True)
    assert ds.x_train.shape == (15, 32, 32, 3) and ds.y_test.tolist() == [0, 5, 9]


# ---------------------------------------------------------------------- image folders / tars


def _image_tree(root: Path, classes: list[str], size: tuple[int, int] = (4, 3)) -> None:
    """Two train and one test image per class; pixel (0,0,0) encodes the class index."""
    for split, names in (("train", ["b.png", "a.png"]), ("test", ["z.png"])):
        for c in classes:
            for n in names:
                arr = np.full((size[1], size[0], 3), 7, dtype=np.uint8)
                arr[0, 0, 0] = sorted(classes).index(c)
                arr[0, 0, 1] = ord(n[0])
                write(root / split / c / n, png_bytes(arr))


def test_image_folder_order_and_labels(tmp_path: Path) -> None:
    _image_tree(tmp_path / "imgs", ["dog", "cat", "emu"])
    write(tmp_path / "imgs" / "train" / "cat" / "notes.txt", b"ignored")
    write(tmp_path / "imgs" / "train" / "cat" / ".hidden.png", b"ignored")
    ds = read_image_folder(tmp_path / "imgs")
    assert ds.class_names == ("cat", "dog", "emu")
    assert ds.x_train.shape == (6, 3, 4, 3) and ds.x_train.dtype == np.uint8
    assert ds.y_train.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.x_train[:, 0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.x_train[:, 0, 0, 1].tolist() == [ord("a"), ord("b")] * 3  # sorted by file name
    assert ds.y_test.tolist() == [0, 1, 2]


def test_cifar_class_names_get_official_order() -> None:
    assert order_classes(reversed(CIFAR10_CLASSES)) == CIFAR10_CLASSES
    assert order_classes(["b", "c", "a"]) == ("a", "b", "c")


def test_image_folder_grayscale_and_mixed(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for split in ("train", "test"):
        write(tmp_path / "g" / split / "a" / "0.png", png_bytes(gray))
    ds = read_image_folder(tmp_path / "g")
    assert ds.x_train.shape == (1, 3, 4)  # all grayscale -> (N, H, W)
    write(tmp_path / "g" / "train" / "b" / "0.png", png_bytes(np.zeros((3, 4, 3), np.uint8)))
    write(tmp_path / "g" / "test" / "b" / "0.png", png_bytes(np.zeros((3, 4, 3), np.uint8)))
    ds = read_image_folder(tmp_path / "g")
    assert ds.x_train.shape == (2, 3, 4, 3)  # mixed -> RGB, gray replicated
    np.testing.assert_array_equal(ds.x_train[0], np.stack([gray] * 3, axis=-1))


def test_image_folder_mixed_sizes(tmp_path: Path) -> None:
    _image_tree(tmp_path / "imgs", ["a", "b"])
    write(tmp_path / "imgs" / "train" / "b" / "c.png", png_bytes(np.zeros((5, 5, 3), np.uint8)))
    with pytest.raises(DatasetError, match=r"train/b/c\.png is 5x5 but .* is 4x3"):
        read_image_folder(tmp_path / "imgs")


def test_image_folder_class_mismatch(tmp_path: Path) -> None:
    _image_tree(tmp_path / "imgs", ["a", "b"])
    write(tmp_path / "imgs" / "test" / "c" / "x.png", png_bytes(np.zeros((3, 4, 3), np.uint8)))
    with pytest.raises(DatasetError, match=r"train and test class folders differ \(c\)"):
        read_image_folder(tmp_path / "imgs")


def _tar_tree(tmp_path: Path, classes: list[str], arcname: str, mode: str = "w:gz") -> Path:
    _image_tree(tmp_path / "tree", classes)
    out = tmp_path / "imgs.tar.gz"
    with tarfile.open(out, mode) as tf:
        for split in ("test", "train"):  # test first, like the real archive
            tf.add(tmp_path / "tree" / split, arcname=f"{arcname}/{split}" if arcname else split)
    return out


@pytest.mark.parametrize("arcname", ["", "./cifar10"])
def test_image_tar_matches_folder(tmp_path: Path, arcname: str) -> None:
    archive = _tar_tree(tmp_path, ["dog", "cat"], arcname)
    from_tar = read_image_tar(archive)
    from_dir = read_image_folder(tmp_path / "tree")
    np.testing.assert_array_equal(from_tar.x_train, from_dir.x_train)
    np.testing.assert_array_equal(from_tar.y_test, from_dir.y_test)
    assert from_tar.class_names == ("cat", "dog")


def test_image_tar_mixed_sizes_and_bad_image(tmp_path: Path) -> None:
    _image_tree(tmp_path / "tree", ["a"])
    write(tmp_path / "tree" / "train" / "a" / "c.png", png_bytes(np.zeros((9, 9, 3), np.uint8)))
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(tmp_path / "tree", arcname=".")
    with pytest.raises(DatasetError, match=r"x\.tar:\./train/a/c\.png is 9x9"):
        read_image_tar(archive)
    write(tmp_path / "tree" / "train" / "a" / "c.png", b"not a png")
    with tarfile.open(archive, "w") as tf:
        tf.add(tmp_path / "tree", arcname=".")
    with pytest.raises(DatasetError, match=r"cannot decode image .*train/a/c\.png") as e:
        read_image_tar(archive)
    assert "BytesIO" not in str(e.value) and "not an image Pillow can identify" in str(e.value)


def test_image_tar_truncated(tmp_path: Path) -> None:
    archive = _tar_tree(tmp_path, ["a", "b"], "")
    archive.write_bytes(archive.read_bytes()[:-40])
    with pytest.raises(DatasetError, match=r"cannot read archive .*imgs\.tar\.gz"):
        read_image_tar(archive)


# ----------------------------------------------------------------------------------------- npz


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    base = {
        "x_train": RNG.integers(0, 256, (4, 5, 5), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 1]),
        "x_test": RNG.integers(0, 256, (2, 5, 5), dtype=np.uint8),
        "y_test": np.array([2, 0]),
    }
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def test_npz_good(tmp_path: Path) -> None:
    ds = read_npz(_npz(tmp_path / "toy.npz"))
    assert ds.name == "toy" and ds.num_classes == 3 and ds.y_train.dtype == np.int32
    f = ds.features("train")
    assert f.shape == (4, 25) and f.dtype == np.float32 and 0.0 <= f.min() <= f.max() <= 1.0
    np.testing.assert_allclose(f, ds.x_train.reshape(4, 25) / 255.0, rtol=1e-6)


def test_npz_float_in_unit_range_kept(tmp_path: Path) -> None:
    x = RNG.random((4, 2, 2, 3))
    ds = read_npz(_npz(tmp_path / "f.npz", x_train=x, x_test=x[:2], num_classes=np.array(7)))
    assert ds.x_train.dtype == np.float32 and ds.num_classes == 7
    np.testing.assert_allclose(ds.features("train"), x.reshape(4, 12), rtol=1e-6)


def test_npz_classes_without_examples_are_kept_where_num_classes_says_so(tmp_path: Path) -> None:
    gaps = {"y_train": np.array([0, 5, 5, 0]), "y_test": np.array([5, 3])}
    ds = read_npz(_npz(tmp_path / "g.npz", **gaps, num_classes=np.array(6)))
    assert ds.num_classes == 6  # the user's word: classes 1-4 exist, 3 only in the test set


def test_npz_casts_small_ints_and_squeezes_channel(tmp_path: Path) -> None:
    x = np.full((4, 3, 3, 1), 200, dtype=np.int64)
    y = np.array([[0], [1], [2], [1]], np.int64)
    ds = read_npz(_npz(tmp_path / "i.npz", x_train=x, x_test=x[:2], y_train=y))
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape == (4, 3, 3)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"y_test": None}, r"lacks key\(s\) y_test"),
        ({"y_train": np.array([0, 1, 2])}, "x_train has 4 examples but y_train has 3"),
        ({"y_train": np.array([0, -1, 2, 1])}, "labels must be non-negative"),
        ({"y_train": np.array([0.0, 1.0, 2.0, 1.0])}, "expected 1-D integer labels"),
        ({"x_test": np.zeros((2, 5, 5)) + 3.0}, r"float values span \[3, 3\]"),
        ({"x_test": np.zeros((2, 4, 4), np.uint8)}, "differ in shape"),
        ({"x_test": np.zeros((2, 25), np.uint8)}, "differ in shape"),
        ({"x_test": np.zeros((2, 5, 5, 2), np.uint8)}, r"shape \(2, 5, 5, 2\); expected"),
        ({"num_classes": np.array(2)}, "num_classes. must be an integer scalar"),
        ({"x_test": RNG.integers(0, 2, (2, 5, 5), dtype=np.uint8)}, "only 0 and 1, which read"),
        ({"x_train": RNG.integers(0, 2, (4, 25))}, r"store them as 0 and 255 \(x \* 255\)"),
        # labels {0, 5}: four classes nothing has, which would silently pad the output layer
        (
            {"y_train": np.array([0, 5, 5, 0]), "y_test": np.array([5, 0])},
            r"leave classes 1-4 of 0..5 without any example; relabel",
        ),
        ({"y_test": np.array([3, 0])}, r"class\(es\) 3 appear in y_test but never in y_train"),
        (
            {"y_train": np.zeros(4, int), "y_test": np.zeros(2, int)},
            "one class and nothing to classify",
        ),
    ],
)
def test_npz_rejects(tmp_path: Path, arrays: dict, match: str) -> None:
    f = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=match) as e:
        read_npz(f)
    assert "bad.npz" in str(e.value)


def test_npz_flat_feature_vectors(tmp_path: Path) -> None:
    """A user's tabular data (N, D) is read as features; the value rules are the images'."""
    x = RNG.random((4, 7)).astype(np.float32)
    ds = read_npz(_npz(tmp_path / "tab.npz", x_train=x, x_test=x[:2]))
    assert ds.image_shape == (7,) and ds.input_dim == 7 and not ds.is_images
    np.testing.assert_array_equal(ds.features("test"), x[:2])
    ints = read_npz(
        _npz(tmp_path / "i.npz", x_train=np.full((4, 3), 51), x_test=np.zeros((2, 3), int))
    )
    np.testing.assert_allclose(ints.features("train"), 0.2)
    signed = np.linspace(-1, 1, 28).reshape(4, 7)  # e.g. standardised features
    with pytest.raises(DatasetError, match=r"values span \[-1, 1\].*min-max scale each feature"):
        read_npz(_npz(tmp_path / "s.npz", x_train=signed, x_test=x[:2]))
    with pytest.raises(DatasetError, match="an example with no values"):
        read_npz(_npz(tmp_path / "z.npz", x_train=x[:, :0], x_test=x[:2, :0]))


def test_npz_object_arrays_never_unpickled(tmp_path: Path) -> None:
    f = _npz(tmp_path / "obj.npz", y_train=np.array([0, 1, 2, {"x": 1}], dtype=object))
    with pytest.raises(DatasetError, match="object arrays, which would need unpickling"):
        read_npz(f)


def test_npz_missing_or_not_npz(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_npz(tmp_path / "nope.npz")
    with pytest.raises(DatasetError, match=r"cannot read .*junk\.npz"):
        read_npz(write(tmp_path / "junk.npz", b"PK\x03\x04garbage"))


# ------------------------------------------------------------------------------------ Dataset


def test_dataset_is_read_only_and_validated() -> None:
    x = np.zeros((3, 2, 2), np.uint8)
    ds = Dataset("t", x, np.array([0, 1, 1], np.int32), x[:1].copy(), np.array([0], np.int32), 2)
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0, 0] = 1
    assert ds.input_dim == 4 and ds.image_shape == (2, 2)
    with pytest.raises(DatasetError, match=r"train labels span 0\.\.2, outside 0\.\.1"):
        Dataset("t", x.copy(), np.array([0, 2, 1], np.int32), x[:1].copy(), ds.y_test, 2)
    with pytest.raises(ValueError, match="split must be"):
        ds.features("val")  # type: ignore[arg-type]


def test_a_changed_data_folder_is_read_again_within_one_session(tmp_path, monkeypatch) -> None:
    """Loaded data sets are kept in memory per process; the key includes the folder the
    name resolves to now, so pointing $TDCA_DATA_DIR elsewhere serves the other files."""
    import tdca.data.loader as loader
    from tdca.experiments.classification import make_split

    monkeypatch.setattr(loader, "CIFAR10_PER_CLASS", None)  # two-image stand-ins
    for name in ("a", "b"):
        _image_tree(tmp_path / name / "cifar10", list(CIFAR10_CLASSES), (32, 32))
    for p in (tmp_path / "b" / "cifar10").rglob("*.png"):  # b's images differ from a's
        p.write_bytes(png_bytes(np.full((32, 32, 3), 200, dtype=np.uint8)))
    monkeypatch.setenv("TDCA_DATA_DIR", str(tmp_path / "a"))
    a = make_split("cifar10", None, 20)
    monkeypatch.setenv("TDCA_DATA_DIR", str(tmp_path / "b"))
    b = make_split("cifar10", None, 20)
    assert np.allclose(b.x_train, 200 / 255) and not np.allclose(a.x_train, 200 / 255)
