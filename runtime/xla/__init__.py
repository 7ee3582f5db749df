"""Run-time side of the xla target: jaxlib adapter, segment executor, systolic-array cycle model."""
