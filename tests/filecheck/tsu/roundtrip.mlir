// RUN: tsuc opt %s | tsuc opt | filecheck %s
// Every tsu op and type prints and parses back unchanged.

builtin.module {
  %p = tsu.problem couplings dense<[[0, 1], [1, 2], [0, 2]]> : tensor<3x2xi64> weights dense<[-1.0, -2.0, 0.5]> : tensor<3xf64> fields dense<[0.0, 0.25, 0.0]> : tensor<3xf64> offset 1.5 : f64 maxcut : !tsu.problem<3>
  %q = tsu.quantize %p j_bits 4 : i64 h_bits 6 : i64 scale 0.25 : f64 couplings dense<[[0, 1], [0, 2], [1, 2]]> : tensor<3x2xi64> weights dense<[-4, 2, -7]> : tensor<3xi32> fields dense<[0, 1, 0]> : tensor<3xi32> error {exact = 1 : i64} : !tsu.problem<3> -> !tsu.program<3>
  %c = tsu.colour %q method "dsatur" colours dense<[0, 1, 2]> : tensor<3xi64> num_colours 3 : i64 : !tsu.program<3> -> !tsu.program<3>
  %s, %e, %b, %be, %cut = tsu.sample "ising" (%c) samples 4 : i64 steps 100 : i64 beta 2.0 : f64 beta0 0.1 : f64 schedule "geometric" tempering 4 : i64 machine {n_pbits = 64 : i64, topology = "complete", clock_hz = 1.0e9 : f64, energy_per_flip_j = 1.0e-14 : f64} : (!tsu.program<3>) -> (tensor<?x3xi8>, tensor<?xf64>, tensor<3xi8>, tensor<f64>, tensor<f64>)
  %x = "test.op"() : () -> tensor<2x3xf32>
  %bern = tsu.sample "bernoulli" (%x) samples 1 : i64 steps 1 : i64 beta 1.0 : f64 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %att = tsu.sample "attention" (%x) samples 16 : i64 steps 1 : i64 beta 0.5 : f64 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %u = tsu.sample "noise" () samples 1 : i64 steps 1 : i64 beta 1.0 : f64 distribution "uniform" loc -1.0 : f64 scale 2.0 : f64 : () -> tensor<4xf32>
}

// CHECK:      %p = tsu.problem couplings dense<{{\[\[}}0, 1], [1, 2], [0, 2]]> : tensor<3x2xi64> weights dense<[-1.000000e+00, -2.000000e+00, 5.000000e-01]> : tensor<3xf64> fields dense<[0.000000e+00, 2.500000e-01, 0.000000e+00]> : tensor<3xf64> offset 1.500000e+00 : f64 maxcut : !tsu.problem<3>
// CHECK-NEXT: %q = tsu.quantize %p j_bits 4 : i64 h_bits 6 : i64 scale 2.500000e-01 : f64 {{.*}} : !tsu.problem<3> -> !tsu.program<3>
// CHECK-NEXT: %c = tsu.colour %q method "dsatur" colours dense<[0, 1, 2]> : tensor<3xi64> num_colours 3 : i64 : !tsu.program<3> -> !tsu.program<3>
// CHECK-NEXT: %s, %e, %b, %be, %cut = tsu.sample "ising"(%c) samples 4 : i64 steps 100 : i64 beta 2.000000e+00 : f64 beta0 1.000000e-01 : f64 schedule "geometric" tempering 4 : i64 machine {{{.*}}topology = "complete"{{.*}}} : (!tsu.program<3>) -> (tensor<?x3xi8>, tensor<?xf64>, tensor<3xi8>, tensor<f64>, tensor<f64>)
// CHECK:      %bern = tsu.sample "bernoulli"(%x) {{.*}} : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %att = tsu.sample "attention"(%x) samples 16 : i64 {{.*}} beta 5.000000e-01 : f64 : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %u = tsu.sample "noise"() {{.*}} distribution "uniform" loc -1.000000e+00 : f64 scale 2.000000e+00 : f64 : () -> tensor<4xf32>
