"""The Ternary Fabric at run time: the executor and the device models behind it.

The hardware description that the compiler (`tsuc.targets.tfmbs`) and this runtime share
lives here, once, and the compiler imports it (never the reverse):

- `options.py`: the target's options and run parameters (declared once);
- `machine.py`: `FabricConfig` (sizes, address map, DMA timing, energy constants);
- `pt5.py`: the PT-5 weight encoding (five trits per byte, lane-major SRAM words);
- `tfd.py`: the TFD descriptor layout the TFD programs are written in;
- `schedule.py`: layer plans (tile groups, K chunks, residency) and their closed-form counters.

Run-time only: `executor.py` (the segment executor), `fabric.py` (the seed's `Fabric` API),
`fastpath.py`, `actquant.py`, `host_ops.py`, `reference_engine.py`.
"""
