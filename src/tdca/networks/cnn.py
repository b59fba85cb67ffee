"""A bottom-up convolutional network: one conv layer and three dense layers ("Deep CNN").

The 2024 paper's Deep CNN has one convolutional layer followed by three fully connected
layers; this module provides it with the same interface as ``tdca.networks.MLP`` (``init``,
``forward -> (logits, taps)``, ``apply``, ``units``, ``local_update``, ``num_params``), so
``ClassificationTask`` and every strategy that goes through ``model.local_update`` (BP,
TDCA) use it unchanged. FA does not apply: it mimics W^T layer by layer, and a conv layer's
W^T has no per-channel form.

Credit design: the conv layer receives **one credit per channel** (per example), not one per
(position, channel). A channel is one feature detector -- one kernel and one bias --
replicated over space, so it is the natural analogue of a dense neuron: it owns its incoming
weights and updates them from its own credit, slope and input. Per-position credits would
make the credit network's output grow with the image size (12x12x16 = 2304 credits for
MNIST instead of 16) and would ask a top-down signal to carry spatial detail it cannot see
(the credit network reads only [p(y|x), one-hot(y)]). The local rule is the dense one with
the credit broadcast over positions: with the credit held fixed, the update is the gradient
w.r.t. the layer's own kernel and bias of ``mean_b sum_pos sum_ch credit[b, ch] *
tanh(z[b, pos, ch])``, i.e. ``dK[kh, kw, cin, ch] = mean_b sum_pos credit[b, ch] *
g'(z[b, pos, ch]) * patch[b, pos, kh, kw, cin]`` and ``db[ch] = mean_b sum_pos credit[b,
ch] * g'(z[b, pos, ch])``. Backprop's conv gradient is the same formula with a
per-position credit, so a per-channel credit can steer but not reproduce BP exactly.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

from tdca.networks.mlp import INIT_SCHEMES, NEAR_ZERO, LayerTap, Params, affine, tanh_prime

_PATCH_DIMS = ("NHWC", "OIHW", "NHWC")


def image_patches(x: jax.Array, kernel: int, stride: int) -> jax.Array:
    """(B, H', W', C*k*k) VALID patches of NHWC images, features in (C, kh, kw) order.

    The convolution is computed as ``patches @ kernel_matrix``: the patches do not depend on
    the weights, so a vmapped population shares one copy and every candidate's conv is a
    plain matmul. (A vmapped ``conv_general_dilated`` with per-candidate kernels became a
    grouped convolution that XLA:CPU ran ~40x slower than the candidates one by one.)
    HIGHEST precision makes the identity-kernel extraction an exact copy on every backend.
    """
    return jax.lax.conv_general_dilated_patches(
        x,
        (kernel, kernel),
        (stride, stride),
        "VALID",
        dimension_numbers=_PATCH_DIMS,
        precision=jax.lax.Precision.HIGHEST,
    )


def kernel_matrix(kernel: jax.Array) -> jax.Array:
    """An HWIO kernel as the (C_in*k*k, C_out) matrix that multiplies ``image_patches``."""
    kh, kw, cin, cout = kernel.shape
    return jnp.transpose(kernel, (2, 0, 1, 3)).reshape(cin * kh * kw, cout)


def kernel_from_matrix(m: jax.Array, kernel_shape: tuple[int, int, int, int]) -> jax.Array:
    """Inverse of ``kernel_matrix``."""
    kh, kw, cin, cout = kernel_shape
    return jnp.transpose(m.reshape(cin, kh, kw, cout), (1, 2, 0, 3))


def conv2d(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """VALID, NHWC convolution with an HWIO kernel (no bias), as patches @ matrix."""
    return image_patches(x, kernel.shape[0], stride) @ kernel_matrix(kernel)


def conv_local_update(
    tap: LayerTap, credit: jax.Array, kernel_shape: tuple[int, int, int, int]
) -> dict[str, jax.Array]:
    """The local rule for a tanh conv layer with one credit per channel (module docstring).

    ``tap.inputs`` are the layer's patches (B, H', W', C_in*k*k), ``tap.pre`` is
    (B, H', W', C_out), ``credit`` is (B, C_out). The kernel update is patches^T @ delta,
    the transpose of the (linear) conv map applied to the credit-weighted slopes, which is
    what backprop would compute for that cotangent.
    """
    from tdca.credit.local_rule import f32_dot_operands  # here: that module imports mlp

    n = tap.inputs.shape[0]
    credit = credit.astype(tap.pre.dtype)
    delta = (credit[:, None, None, :] * tanh_prime(tap.pre)).astype(tap.inputs.dtype)
    patches, delta = f32_dot_operands(tap.inputs, delta)
    dk = jnp.einsum("bhwp,bhwc->pc", patches, delta, preferred_element_type=jnp.float32)
    bias = jnp.mean(delta.sum((1, 2), dtype=jnp.float32), 0)
    return {"w": kernel_from_matrix(dk, kernel_shape) / n, "b": bias}


@partial(jax.jit, static_argnums=(1, 2))
def _init_params(key: jax.Array, shapes: tuple[tuple[int, ...], ...], scheme: str) -> Params:
    """Weights of ``shapes`` (fan-in dims first, n_out last) and their biases.

    All random numbers come from one draw, and the whole init is one jitted program: eager
    per-tensor draws each compiled their own RNG kernel, which dominated small runs.
    """
    sizes = [n for shape in shapes for n in (math.prod(shape), shape[-1])]
    if scheme == "zero":
        flat = jnp.zeros((sum(sizes),))
    elif scheme == "near_zero":
        flat = jax.random.uniform(key, (sum(sizes),), minval=-NEAR_ZERO, maxval=NEAR_ZERO)
    else:  # kaiming (He) normal weights, zero biases
        flat = jax.random.normal(key, (sum(sizes),))
    chunks = iter(jnp.split(flat, list(itertools.accumulate(sizes[:-1]))))
    params: Params = []
    for shape in shapes:
        w, b = next(chunks).reshape(shape), next(chunks)
        if scheme == "kaiming":
            w, b = w * jnp.sqrt(2.0 / math.prod(shape[:-1])), jnp.zeros_like(b)
        params.append({"w": w, "b": b})
    return params


@dataclass(frozen=True)
class CNN:
    """conv(VALID) -> tanh -> flatten -> dense tanh -> dense tanh -> dense (linear).

    Inputs arrive flattened as (N, H*W*C) in H, W, C order and are reshaped to
    ``input_shape``. Params are ``[{"w": (k, k, C, channels), "b": (channels,)}, {"w":
    (n_in, n_out), "b": (n_out,)}, ...]``, bottom to top.
    """

    input_shape: tuple[int, int, int] = (28, 28, 1)
    channels: int = 16
    kernel: int = 5
    stride: int = 2
    hidden: tuple[int, ...] = (100, 100)
    num_classes: int = 10

    def __post_init__(self) -> None:
        # Tuples, so the model stays hashable (it is static in jitted code) if given lists.
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if len(self.input_shape) != 3 or any(int(s) < 1 for s in self.input_shape):
            raise ValueError(f"input_shape must be (H, W, C) positive, got {self.input_shape}")
        ints = (self.channels, self.kernel, self.stride, self.num_classes, *self.hidden)
        if any(int(v) < 1 for v in ints):
            raise ValueError(f"CNN sizes must be positive integers, got {self}")
        h, w, _ = self.input_shape
        if self.kernel > min(h, w):
            raise ValueError(f"kernel {self.kernel} does not fit a {h}x{w} input")

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """(H', W', channels) after the VALID strided convolution."""
        h, w, _ = self.input_shape
        k, s = self.kernel, self.stride
        return ((h - k) // s + 1, (w - k) // s + 1, self.channels)

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        return (self.kernel, self.kernel, self.input_shape[2], self.channels)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Activations per layer, MLP-style: (flat input, flat conv output, hidden..., out).

        Kept so code that checks ``model.sizes[0]`` / ``[-1]`` against the data works.
        """
        flat_in, flat_conv = math.prod(self.input_shape), math.prod(self.conv_shape)
        return (flat_in, flat_conv, *self.hidden, self.num_classes)

    @property
    def num_layers(self) -> int:
        return 2 + len(self.hidden)

    @property
    def units(self) -> tuple[int, ...]:
        """Credited units per layer: one per conv channel, then one per dense neuron."""
        return (self.channels, *self.hidden, self.num_classes)

    def _dense_sizes(self) -> list[tuple[int, int]]:
        return list(itertools.pairwise(self.sizes[1:]))

    def init(self, key: jax.Array, scheme: str = "zero") -> Params:
        """Same schemes as the MLP; Kaiming uses fan_in = k*k*C_in for the kernel."""
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
        shapes = (self.kernel_shape, *self._dense_sizes())
        return _init_params(key, shapes, scheme)

    def forward(self, params: Params, x: jax.Array) -> tuple[jax.Array, list[LayerTap]]:
        """Logits and each layer's (input, pre-activation); the conv layer's input is its
        patches (B, H', W', C*k*k) and its pre-activation keeps image shape (B, H', W', ch)."""
        img = x.reshape((x.shape[0], *self.input_shape))
        patches = image_patches(img, self.kernel, self.stride)
        conv = {"w": kernel_matrix(params[0]["w"]), "b": params[0]["b"]}
        z = affine(patches, conv)
        taps = [LayerTap(patches, z)]
        a = jnp.tanh(z).reshape(x.shape[0], -1)
        last = len(params) - 1
        for i, layer in enumerate(params[1:], start=1):
            z = affine(a, layer)
            taps.append(LayerTap(a, z))
            a = z if i == last else jnp.tanh(z)
        return a, taps

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """Output logits only."""
        return self.forward(params, x)[0]

    def local_update(self, taps: list[LayerTap], credits: list[jax.Array]) -> Params:
        """Per-channel rule for the conv layer, the shared dense rule for the rest."""
        from tdca.credit.local_rule import check_blocks, local_update  # that module imports mlp

        check_blocks(taps, credits)
        conv = conv_local_update(taps[0], credits[0], self.kernel_shape)
        return [conv, *local_update(taps[1:], credits[1:])]

    def num_params(self) -> int:
        conv = math.prod(self.kernel_shape) + self.channels
        return conv + sum((i + 1) * o for i, o in self._dense_sizes())
