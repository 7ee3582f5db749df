// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// An Ising sample returns reads x n spins as i8; f32 samples are rejected.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1]]> : tensor<1x2xi64> weights dense<1.0> : tensor<1xf64> fields dense<0.0> : tensor<2xf64> offset 0.0 : f64 : !tsu.problem<2>
  %s, %e, %b, %be = tsu.sample "ising" (%p) samples 2 : i64 steps 10 : i64 beta 1.0 : f64 : (!tsu.problem<2>) -> (tensor<?x2xf32>, tensor<?xf64>, tensor<2xi8>, tensor<f64>)
}

// CHECK: tsu.sample "ising" samples must be a reads x n tensor of i8
