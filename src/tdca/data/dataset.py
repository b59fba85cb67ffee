"""The in-memory dataset container every reader returns, and the package's error types.

Readers validate their files; :class:`Dataset` re-checks the invariants the training code
relies on (dtypes, shapes, label range), so a bug in one reader cannot leak bad arrays into a
long experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tdca.checks import is_integer

Split = Literal["train", "test"]


class DatasetError(Exception):
    """A dataset could not be found, read or validated.

    The message is one line that names the offending file and says what to do about it, so the
    CLI can print it as-is instead of a traceback.
    """


class DatasetWarning(UserWarning):
    """Something was recovered from (e.g. a corrupt cache was rebuilt); the user should know."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test images and labels of one image-classification dataset.

    Images are ``uint8`` of shape ``(N, H, W)`` (grayscale) or ``(N, H, W, 3)`` (RGB); a user's
    ``npz:`` file may instead hold flat feature vectors ``(N, D)`` (for the MLPs; the CNN needs
    images), and may store floats in [0, 1], kept as ``float32`` so no precision is thrown
    away. Labels are ``int32`` in ``0..num_classes-1``. Arrays are made
    read-only so a dataset shared between experiments cannot be mutated by one of them.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        """Check invariants once here so every consumer can rely on them."""
        where = f"dataset {self.name!r}" + (f" (from {self.source})" if self.source else "")
        if not is_integer(self.num_classes):
            raise DatasetError(f"{where}: num_classes must be an int, got {self.num_classes!r}")
        object.__setattr__(self, "num_classes", int(self.num_classes))
        if self.num_classes < 1:
            raise DatasetError(f"{where}: num_classes must be >= 1, got {self.num_classes}")
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.class_names and len(self.class_names) != self.num_classes:
            raise DatasetError(
                f"{where}: {len(self.class_names)} class names for {self.num_classes} classes"
            )
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, np.ndarray) or x.dtype not in (np.uint8, np.float32):
                raise DatasetError(f"{where}: x_{split} must be a uint8 or float32 ndarray")
            if not (x.ndim in (2, 3) or (x.ndim == 4 and x.shape[-1] == 3)):
                raise DatasetError(
                    f"{where}: x_{split} has shape {x.shape}; expected (N, H, W), (N, H, W, 3) "
                    "or flat (N, D)"
                )
            if not isinstance(y, np.ndarray) or y.dtype != np.int32 or y.ndim != 1:
                raise DatasetError(f"{where}: y_{split} must be a 1-D int32 ndarray")
            if len(x) != len(y):
                raise DatasetError(f"{where}: {len(x)} {split} images but {len(y)} {split} labels")
            if y.size and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise DatasetError(
                    f"{where}: {split} labels span {int(y.min())}..{int(y.max())}, "
                    f"outside 0..{self.num_classes - 1}"
                )
            x.setflags(write=False)
            y.setflags(write=False)
        if self.x_train.shape[1:] != self.x_test.shape[1:] or self.x_train.dtype != (
            self.x_test.dtype
        ):
            raise DatasetError(
                f"{where}: train images {self.x_train.shape[1:]} {self.x_train.dtype} and test "
                f"images {self.x_test.shape[1:]} {self.x_test.dtype} differ"
            )

    def images(self, split: Split) -> np.ndarray:
        """Raw images of one split (read-only), as stored."""
        return self._pick(split)[0]

    def labels(self, split: Split) -> np.ndarray:
        """Integer labels of one split (read-only)."""
        return self._pick(split)[1]

    def features(self, split: Split) -> np.ndarray:
        """Flattened ``float32`` inputs in [0, 1], shape ``(N, input_dim)``, for the MLPs.

        Returns a new writable array each call (CIFAR-10 train is ~600 MB as float32), so call
        it once per experiment and keep the result.
        """
        x = self._pick(split)[0]
        flat = x.reshape(len(x), -1)
        if flat.dtype == np.uint8:
            out = flat.astype(np.float32)
            out /= np.float32(255.0)  # division (not * 1/255) so 255 maps to exactly 1.0
            return out
        return flat.astype(np.float32, copy=True)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(H, W)`` or ``(H, W, 3)``, or ``(D,)`` for flat features."""
        return tuple(self.x_train.shape[1:])

    @property
    def is_images(self) -> bool:
        """False for flat feature vectors, which have no spatial layout for a convolution."""
        return len(self.image_shape) >= 2

    @property
    def input_dim(self) -> int:
        """Length of one flattened feature vector (784 for MNIST, 3072 for CIFAR-10)."""
        return int(np.prod(self.image_shape))

    def __repr__(self) -> str:
        """Summarise shapes instead of dumping arrays."""
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape} {self.x_train.dtype}, "
            f"test={self.x_test.shape}, num_classes={self.num_classes}, source={self.source!r})"
        )

    def _pick(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
