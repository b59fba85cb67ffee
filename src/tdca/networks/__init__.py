"""Networks: bottom-up MLPs that do the task, and the top-down credit network."""

from tdca.networks.cnn import CNN
from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.networks.mlp import INIT_SCHEMES, MLP, LayerTap, Params, tanh_prime

__all__ = [
    "CNN",
    "INIT_SCHEMES",
    "MLP",
    "CreditNet",
    "CreditParams",
    "LayerTap",
    "Params",
    "tanh_prime",
]
