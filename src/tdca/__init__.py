"""tdca: training neural networks without backpropagation, by a learned top-down credit
assignment network meta-trained with evolution strategies (JAX)."""

__version__ = "0.1.0"
