"""Run-time side of the `hologram` target: the class pool, the fused executor, the cost model."""
