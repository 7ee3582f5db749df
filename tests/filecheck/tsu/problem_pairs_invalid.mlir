// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Couplings are strict upper-triangle pairs of spins that exist.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1], [2, 1]]> : tensor<2x2xi64> weights dense<1.0> : tensor<2xf64> fields dense<0.0> : tensor<3xf64> offset 0.0 : f64 : !tsu.problem<3>
}

// CHECK: tsu.problem coupling (2, 1) must satisfy 0 <= i < j < 3
