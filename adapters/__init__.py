"""One module per library: each registers its stage implementations with :mod:`parity.registry`."""
