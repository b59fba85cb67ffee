"""Known sha256 checksums of the MNIST and Fashion-MNIST IDX files, and their verification.

Both datasets are fixed, published artefacts, so any file that carries a standard IDX name but
different content is either corrupt or a different dataset; silently training on it would make
results incomparable. Each file has two known hashes:

* ``gz_sha256``: the ``.gz`` file exactly as distributed (the copies in the project's shared
  data folder; Fashion-MNIST's are byte-identical to Debian's ``dataset-fashion-mnist``);
* ``raw_sha256``: the decompressed IDX bytes, so the same data also verifies when stored
  uncompressed or re-gzipped by another tool (e.g. the official MNIST ``.gz`` files).

A file passes if either hash matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from tdca.data.dataset import DatasetError


@dataclass(frozen=True)
class KnownIdx:
    """The two accepted sha256 hashes of one IDX file (see module docstring)."""

    gz_sha256: str
    raw_sha256: str


#: Standard IDX file stems (without ``.gz``), in the order train images/labels, test images/labels.
IDX_STEMS: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

MNIST_IDX: Mapping[str, KnownIdx] = {
    "train-images-idx3-ubyte": KnownIdx(
        "db8f937d487057fb14a9f0fbe97f0bc8d311ab41b750d41e1ff37c43b9e55e19",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": KnownIdx(
        "51fc562b6747b666fbf6e84ce29d43c3cb5f9c388c664d43b33f02095313405a",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": KnownIdx(
        "cfeddb84311ecf044fc6a5b0f6ee8a24d265d4e83e388400186eb114082f4209",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": KnownIdx(
        "e41c74e484045d39b462a7790a4af51301bd9b0b24f0154798d713ec68c45920",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

FASHION_MNIST_IDX: Mapping[str, KnownIdx] = {
    "train-images-idx3-ubyte": KnownIdx(
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train-labels-idx1-ubyte": KnownIdx(
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "t10k-images-idx3-ubyte": KnownIdx(
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "t10k-labels-idx1-ubyte": KnownIdx(
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}

KNOWN_IDX: Mapping[str, Mapping[str, KnownIdx]] = {
    "mnist": MNIST_IDX,
    "fashion-mnist": FASHION_MNIST_IDX,
}

KNOWN_ARRAYS: Mapping[str, Mapping[str, str]] = {
    "mnist": {
        "x_train": "2f227268e86cf00863d222d9310ac0644cec687b4c043e114a95b706b164cb2d",
        "y_train": "c37ac278a1ba6c377efdd56876a441db457912ee719605889c3d6cfe705b0842",
        "x_test": "6ccd0d5f54f33cac9b941296e024a815f3a4fe01c278952113c172a622d3e566",
        "y_test": "33d859372c8a13f90010f4c5175983660f8a97a4f442facdb4220d0aba4f3751",
    },
    "fashion-mnist": {
        "x_train": "36378d1c9ccdb0a3a7fcbc495d073b7b5daf0cc7c104f32076a1f091293ed112",
        "y_train": "5eddcd8daae258a6d84a7bb23fb3d9b32c379ffa496d21643e16746a6b5b4b17",
        "x_test": "c7fd19f74bbaabc2e2fc524d0af8842555a4bf179adf8097839db14bcd173a35",
        "y_test": "d9afddc99370d4e1e7e64b64022741993853d94526ce538f68fcf8d570b51349",
    },
}
"""``cache.array_sha256`` of each published data set's arrays, as every verified source
decodes them (the IDX files, the PyPI wheel's CSVs, the Debian package; checked alike on
2026-12-06): a converted cache must hold exactly these, so that a modified copy saved with
a sidecar of its own is not trusted for the published data set."""


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of an in-memory blob."""
    return hashlib.sha256(data).hexdigest()


def idx_stem(filename: str) -> str:
    """File name without directory and ``.gz``, i.e. the key of the known-hash tables."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".gz") else base


def verify_idx(
    source: str, raw: bytes, payload: bytes, known: Mapping[str, KnownIdx] | None
) -> None:
    """Raise :class:`DatasetError` if a known IDX file's content differs from the published one.

    ``raw`` is the file as stored, ``payload`` the decompressed IDX bytes (the same object when
    the file is not gzipped). Files whose name is not in ``known`` are not checked.
    """
    if not known:
        return
    expected = known.get(idx_stem(source))
    if expected is None:
        return
    if not raw:
        raise DatasetError(
            f"{source}: empty file (0 bytes; an interrupted copy or download?): delete it to "
            "re-fetch, or copy it again"
        )
    if raw is not payload and sha256_bytes(raw) == expected.gz_sha256:
        return
    got = sha256_bytes(payload)
    if got == expected.raw_sha256:
        return
    raise DatasetError(
        f"checksum mismatch for {source}: sha256 of its IDX data is {got}, expected "
        f"{expected.raw_sha256} (or {expected.gz_sha256} for the .gz file); the file is "
        "corrupt or a different dataset: delete it to re-fetch, or convert it to .npz and load "
        "it with 'npz:PATH'"
    )
