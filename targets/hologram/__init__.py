"""The `hologram` target: fused vector kernels on a 96-class in-cache boundary pool."""
