// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Coupled p-bits may not share a colour: they would update in the same clock.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> weights dense<1.0> : tensor<2xf64> fields dense<0.0> : tensor<3xf64> offset 0.0 : f64 : !tsu.problem<3>
  %q = tsu.quantize %p j_bits 8 : i64 h_bits 8 : i64 scale 1.0 : f64 couplings dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> weights dense<1> : tensor<2xi32> fields dense<0> : tensor<3xi32> error {} : !tsu.problem<3> -> !tsu.program<3>
  %c = tsu.colour %q method "dsatur" colours dense<[0, 1, 1]> : tensor<3xi64> num_colours 2 : i64 : !tsu.program<3> -> !tsu.program<3>
}

// CHECK: tsu.colour gives coupled p-bits 1 and 2 the same colour 1
