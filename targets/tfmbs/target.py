"""The `tfmbs` target: Gemm/MatMul/Conv with constant weights as ternary GEMV frames.

Pipeline after partitioning (`emit_stages`):
  target: tfmbs-lower (quantise weights, activations as trit planes, gemv per plane)
          -> tfmbs-allocate (Bank A placement, residency, frame schedules)
  linalg: tfmbs-to-linalg -> tfmbs-outline -> tfmbs-upstream-module (a view for
          `--emit=linalg`: one upstream func.func per fabric segment, weights as resources)
Emission writes PT-5 weight streams, scales, bias and TFD programs per layer (`emit.py`);
`tsuc.runtime.tfmbs.executor.TfmbsSegment` runs them.
"""

from __future__ import annotations

from typing import Any

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.targets.base import Option, Target
from tsuc.targets.tfmbs.layers import layer_info


class TfmbsTarget(Target):
    name = "tfmbs"
    accelerates = frozenset({"onnx.Gemm", "onnx.MatMul", "onnx.Conv"})
    emit_after = "target"  # `linalg` is a view for --emit=linalg; emission reads the tfmbs form
    description = "Ternary Fabric: MatMul/Gemm/Conv with constant weights as ternary GEMV frames (PT-5, TFD programs)"
    options = (
        Option("quant", str, "twn", "weight quantiser per output channel (twn-opt: thresholds and scales that "
               "minimise each plane's L2 error)", choices=("twn", "sign", "twn-opt")),
        Option("w_planes", int, 1, "residual ternary weight planes (each costs one more frame per row)", minimum=1, maximum=8),
        Option("act_trits", int, 5, "balanced-ternary trit planes per activation (1 = the prototype's sign)", minimum=1, maximum=10),
        Option("encoding", str, "mod3", "PT-5 digit encoding of the weights stored in the artifact", choices=("mod3", "offset")),
        Option("zero_skip", bool, True, "set ZERO_SKIP_EN on every frame (saves energy, not cycles)"),
        Option("residency", bool, True, "keep weights that fit in Bank A resident across calls"),
        Option("tiles", int, 4, "fabric tiles", minimum=1, maximum=16),
        Option("lanes", int, 15, "lanes per tile (one trit each of a 24-bit PT-5 word)", minimum=1, maximum=15),
        Option("bank_words", int, 1024, "words per Bank A / Bank B of a tile (also the longest frame)", minimum=16, maximum=1 << 20),
        Option("clock_mhz", float, 250.0, "fabric clock in MHz (for time and static energy)", minimum=1e-3),
        Option("dma_words_per_cycle", int, 1, "DMA bus width in words per cycle", minimum=1, maximum=64),
        Option("dma_latency", int, 16, "fixed cycles per DMA burst", minimum=0, maximum=100000),
        Option("acc_bits", int, 32, "accumulator width in bits (wraps with a sticky overflow flag)", minimum=8, maximum=32),
        Option("overflow", str, "error", "a layer whose K exceeds the accumulator range: error (refuse it) or wrap "
               "(compile it; its accumulators wrap like the hardware's, flagged in the profile)", choices=("error", "wrap")),
    )

    def fabric_config(self) -> FabricConfig:
        v = self.values
        return FabricConfig(tiles=v["tiles"], lanes=v["lanes"], bank_words=v["bank_words"], clock_hz=v["clock_mhz"] * 1e6,
                            dma_words_per_cycle=v["dma_words_per_cycle"], dma_latency=v["dma_latency"], acc_bits=v["acc_bits"])

    def validate(self) -> None:
        try:
            self.fabric_config()
        except TsucError as e:
            raise TsucError(f"target tfmbs options: {e}") from None

    # -- partitioning ------------------------------------------------------------------------

    def supports(self, op) -> bool:
        return not isinstance(layer_info(op), str)

    def unsupported_reason(self, op) -> str:
        reason = layer_info(op)
        return reason if isinstance(reason, str) else "supported"

    # -- lowering ----------------------------------------------------------------------------

    def emit_stages(self) -> dict[str, list[Any]]:
        from tsuc.targets.tfmbs.allocate import AllocateTfmbsPass
        from tsuc.targets.tfmbs.lower import LowerToTfmbsPass
        from tsuc.targets.tfmbs.to_linalg import TfmbsOutlinePass, TfmbsToLinalgPass
        from tsuc.targets.tfmbs.upstream import TfmbsUpstreamModulePass

        v = self.values
        return {
            "target": [
                LowerToTfmbsPass(quant=v["quant"], w_planes=v["w_planes"], act_trits=v["act_trits"], encoding=v["encoding"],
                                 tiles=v["tiles"], lanes=v["lanes"], acc_bits=v["acc_bits"], overflow=v["overflow"]),
                AllocateTfmbsPass(tiles=v["tiles"], lanes=v["lanes"], bank_words=v["bank_words"],
                                  dma_words_per_cycle=v["dma_words_per_cycle"], dma_latency=v["dma_latency"],
                                  residency=v["residency"]),
            ],
            "linalg": [TfmbsToLinalgPass(), TfmbsOutlinePass(), TfmbsUpstreamModulePass()],
        }

    def print_stage(self, stage: str, module, elide_weights: bool = False) -> str | None:
        """`--emit=linalg` prints upstream MLIR with its weights as a resource section (see
        `upstream.print_upstream`); other stages print as usual (None)."""
        if stage != "linalg":
            return None
        from tsuc.targets.tfmbs.upstream import print_upstream

        return print_upstream(module, elide_weights)

    def pipeline(self) -> list[Any]:
        return self.emit_stages()["target"]

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.tfmbs.emit import emit_tfmbs_segment
        from tsuc.targets.tfmbs.to_linalg import tfmbs_form

        return emit_tfmbs_segment(tfmbs_form(segment), ctx, self.fabric_config(), self.values["encoding"], self.values["zero_skip"])


__all__ = ["TfmbsTarget"]
