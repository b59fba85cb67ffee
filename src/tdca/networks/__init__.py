"""Networks: bottom-up MLPs that do the task, and the top-down credit network."""

from tdca.networks.cnn import CNN
from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.networks.mlp import INIT_SCHEMES, MLP, LayerTap, Params, tanh_prime
from tdca.networks.registry import ARCHITECTURES, build_model, register_arch

__all__ = [
    "ARCHITECTURES",
    "CNN",
    "INIT_SCHEMES",
    "MLP",
    "CreditNet",
    "CreditParams",
    "LayerTap",
    "Params",
    "build_model",
    "register_arch",
    "tanh_prime",
]
