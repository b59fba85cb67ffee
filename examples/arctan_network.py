"""A bottom-up network of your own, in one file: an MLP with two hidden layers (64, 32) and
arctan hidden units, registered as ``atan-64-32``.

A zero start needs g'(0) != 0 (arctan: 1), and g and g' come from the same class (the local
rule and FA use ``hidden_prime``). Use it from the shell by naming this file first::

    tdca --plugin examples/arctan_network.py train --dataset mnist --arch atan-64-32 \\
        --learner dfa --out runs/atan-dfa
    tdca --plugin examples/arctan_network.py evolve --dataset mnist --arch atan-64-32 \\
        --generations 20 --out runs/atan-evolved
    tdca evolve --resume runs/atan-evolved --generations 40   # imports this file itself
    tdca --plugin examples/arctan_network.py train --dataset mnist \\
        --learner tdca:runs/atan-evolved --out runs/atan-tdca   # trains atan-64-32
"""

import jax
import jax.numpy as jnp

from tdca.networks import MLP, register_arch


class ArctanMLP(MLP):
    """tanh replaced by arctan; the output layer stays linear."""

    def activation(self, z: jax.Array) -> jax.Array:
        return jnp.arctan(z)

    def hidden_prime(self, z: jax.Array) -> jax.Array:
        return 1.0 / (1.0 + z * z)


# The builder sizes the network for a data set (ds.input_dim, ds.num_classes).
register_arch("atan-64-32", lambda ds: ArctanMLP((ds.input_dim, 64, 32, ds.num_classes)))
