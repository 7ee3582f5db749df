// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// tsu.sample kinds are bernoulli, ising, attention and noise.

builtin.module {
  %x = "test.op"() : () -> tensor<3xf32>
  %y = tsu.sample "gibbs" (%x) samples 1 : i64 steps 1 : i64 beta 1.0 : f64 : (tensor<3xf32>) -> tensor<3xf32>
}

// CHECK: tsu.sample kind must be one of bernoulli, ising, attention, noise, got 'gibbs'
