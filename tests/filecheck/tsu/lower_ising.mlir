// RUN: tsuc opt %s -p tsu-quantize,tsu-colour,tsu-schedule | filecheck %s
// A 4-spin ring with one chord (weights 1.5 and -0.75) and a bias: the pipeline quantises it,
// colours it and fills the schedule, with the tsu options' defaults (the segment's target
// attribute names none).

builtin.module {
  func.func @main() -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>) {
    %r0, %r1, %r2, %r3 = tsuc.segment "ising" target #tsuc.target<"tsu">() : () -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>) {
      %p = tsu.problem couplings dense<[[0, 1], [1, 2], [2, 3], [0, 3], [0, 2]]> : tensor<5x2xi64> weights dense<[1.5, 1.5, 1.5, 1.5, -0.75]> : tensor<5xf64> fields dense<[0.375, 0.0, 0.0, 0.0]> : tensor<4xf64> offset 0.0 : f64 : !tsu.problem<4>
      %s:4 = tsu.sample "ising" (%p) samples 8 : i64 steps 50 : i64 beta 0.0 : f64 : (!tsu.problem<4>) -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>)
      tsuc.yield %s#0, %s#1, %s#2, %s#3 : tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>
    }
    func.return %r0, %r1, %r2, %r3 : tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>
  }
}

// DSATUR: spin 0 (degree 3) gets 0, spin 2 (degree 3) 1, then 1 and 3 (both see 0 and 1) get 2.
// 8-bit: scale = 1.5 / 127; 1.5 -> 127, -0.75 -> -64 (rint(-63.5) = -64), 0.375 -> 32 (rint(31.75))
// CHECK:      tsu.quantize %p j_bits 8 : i64 h_bits 8 : i64 scale 0.011811023622047244 : f64 couplings dense<{{\[\[}}0, 1], [0, 2], [0, 3], [1, 2], [2, 3]]> : tensor<5x2xi64> weights dense<[127, -64, 127, 127, 127]> : tensor<5xi32> fields dense<[32, 0, 0, 0]> : tensor<4xi32>
// CHECK-SAME: error {exact = 0 : i64, max_coupling_error = 0.0059055118110236116 : f64
// CHECK-SAME: dropped_couplings = 0 : i64}
// CHECK:      tsu.colour %{{.*}} method "dsatur" colours dense<[0, 2, 1, 2]> : tensor<4xi64> num_colours 3 : i64
// CHECK:      tsu.sample "ising"(%{{.*}}) samples 8 : i64 steps 50 : i64 beta {{.*}} : f64 beta0 {{.*}} : f64 schedule "geometric"
