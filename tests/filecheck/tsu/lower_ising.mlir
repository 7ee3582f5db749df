// RUN: tsuc opt %s -p tsu-quantize,tsu-colour,tsu-schedule | filecheck %s
// RUN: tsuc opt %s -p "tsu-quantize{j_bits=3},tsu-colour{method=greedy},tsu-schedule{schedule=linear beta0=0.5}" | filecheck %s --check-prefix=LOSSY
// A 4-spin ring with one chord (weights 1.5 and -0.75) and a bias: the pipeline quantises it,
// colours it and fills the schedule.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1], [1, 2], [2, 3], [0, 3], [0, 2]]> : tensor<5x2xi64> weights dense<[1.5, 1.5, 1.5, 1.5, -0.75]> : tensor<5xf64> fields dense<[0.375, 0.0, 0.0, 0.0]> : tensor<4xf64> offset 0.0 : f64 : !tsu.problem<4>
  %s, %e, %b, %be = tsu.sample "ising" (%p) samples 8 : i64 steps 50 : i64 beta 0.0 : f64 : (!tsu.problem<4>) -> (tensor<?x4xi8>, tensor<?xf64>, tensor<4xi8>, tensor<f64>)
}

// DSATUR: spin 0 (degree 3) gets 0, spin 2 (degree 3) 1, then 1 and 3 (both see 0 and 1) get 2.
// 8-bit: scale = 1.5 / 127; 1.5 -> 127, -0.75 -> -64 (rint(-63.5) = -64), 0.375 -> 32 (rint(31.75))
// CHECK:      tsu.quantize %p j_bits 8 : i64 h_bits 8 : i64 scale 0.011811023622047244 : f64 couplings dense<{{\[\[}}0, 1], [0, 2], [0, 3], [1, 2], [2, 3]]> : tensor<5x2xi64> weights dense<[127, -64, 127, 127, 127]> : tensor<5xi32> fields dense<[32, 0, 0, 0]> : tensor<4xi32>
// CHECK-SAME: error {exact = 0 : i64, max_coupling_error = 0.0059055118110236116 : f64
// CHECK-SAME: dropped_couplings = 0 : i64}
// CHECK:      tsu.colour %{{.*}} method "dsatur" colours dense<[0, 2, 1, 2]> : tensor<4xi64> num_colours 3 : i64
// CHECK:      tsu.sample "ising"(%{{.*}}) samples 8 : i64 steps 50 : i64 beta {{.*}} : f64 beta0 {{.*}} : f64 schedule "geometric"

// 3-bit: scale = 1.5 / 3 = 0.5; -0.75 -> -2 (rint(-1.5)), 0.375 -> 1 (rint(0.75)); error 0.25 per coupling
// LOSSY:      tsu.quantize %p j_bits 3 : i64 h_bits 8 : i64 scale 5.000000e-01 : f64 {{.*}} weights dense<[3, -2, 3, 3, 3]> : tensor<5xi32> fields dense<[1, 0, 0, 0]> : tensor<4xi32> error {exact = 0 : i64, max_coupling_error = 2.500000e-01 : f64{{.*}}energy_error_bound = 3.750000e-01 : f64
// LOSSY:      tsu.colour %{{.*}} method "greedy"
// LOSSY:      tsu.sample "ising"(%{{.*}}) {{.*}} beta0 5.000000e-01 : f64 schedule "linear"
