// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// fields has one entry per spin of the !tsu.problem type.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1]]> : tensor<1x2xi64> weights dense<1.0> : tensor<1xf64> fields dense<0.0> : tensor<4xf64> offset 0.0 : f64 : !tsu.problem<3>
}

// CHECK: tsu.problem fields must have shape 3, got 4
