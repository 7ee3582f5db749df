// RUN: tsuc opt %s -p tsu-quantize,tsu-colour,tsu-schedule | filecheck %s
// The same ring as lower_ising.mlir with options on the segment's target attribute: 3-bit
// couplings, greedy colouring, a linear schedule from beta0 = 0.5.

builtin.module {
  func.func @main() -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>) {
    %r0, %r1, %r2, %r3 = tsuc.segment "ising" target #tsuc.target<"tsu", {j_bits = 3 : i64, colouring = "greedy", schedule = "linear", beta0 = 5.000000e-01 : f64}>() : () -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>) {
      %p = tsu.problem couplings dense<[[0, 1], [1, 2], [2, 3], [0, 3], [0, 2]]> : tensor<5x2xi64> weights dense<[1.5, 1.5, 1.5, 1.5, -0.75]> : tensor<5xf64> fields dense<[0.375, 0.0, 0.0, 0.0]> : tensor<4xf64> offset 0.0 : f64 : !tsu.problem<4>
      %s:4 = tsu.sample "ising" (%p) samples 8 : i64 steps 50 : i64 beta 0.0 : f64 : (!tsu.problem<4>) -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>)
      tsuc.yield %s#0, %s#1, %s#2, %s#3 : tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>
    }
    func.return %r0, %r1, %r2, %r3 : tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>
  }
}

// 3-bit: scale = 1.5 / 3 = 0.5; -0.75 -> -2 (rint(-1.5)), 0.375 -> 1 (rint(0.75)); error 0.25 per coupling
// CHECK:      tsu.quantize %p j_bits 3 : i64 h_bits 8 : i64 scale 5.000000e-01 : f64 {{.*}} weights dense<[3, -2, 3, 3, 3]> : tensor<5xi32> fields dense<[1, 0, 0, 0]> : tensor<4xi32> error {exact = 0 : i64, max_coupling_error = 2.500000e-01 : f64{{.*}}energy_error_bound = 3.750000e-01 : f64
// CHECK:      tsu.colour %{{.*}} method "greedy"
// CHECK:      tsu.sample "ising"(%{{.*}}) {{.*}} beta0 5.000000e-01 : f64 schedule "linear"
