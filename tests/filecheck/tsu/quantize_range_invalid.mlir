// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A 4-bit program holds couplings in -7..7.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1]]> : tensor<1x2xi64> weights dense<1.0> : tensor<1xf64> fields dense<0.0> : tensor<2xf64> offset 0.0 : f64 : !tsu.problem<2>
  %q = tsu.quantize %p j_bits 4 : i64 h_bits 4 : i64 scale 1.0 : f64 couplings dense<[[0, 1]]> : tensor<1x2xi64> weights dense<9> : tensor<1xi32> fields dense<0> : tensor<2xi32> error {} : !tsu.problem<2> -> !tsu.program<2>
}

// CHECK: tsu.quantize weights exceed the 4-bit range +-7
