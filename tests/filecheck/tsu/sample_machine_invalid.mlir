// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// The machine dictionary takes n_pbits, topology, clock_hz and energy_per_flip_j only.

builtin.module {
  %x = "test.op"() : () -> tensor<3xf32>
  %y = tsu.sample "bernoulli" (%x) samples 1 : i64 steps 1 : i64 beta 1.0 : f64 machine {voltage = 1.0 : f64} : (tensor<3xf32>) -> tensor<3xf32>
}

// CHECK: tsu.sample machine has unknown key 'voltage'
