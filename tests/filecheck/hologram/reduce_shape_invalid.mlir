// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// reduce_sum over axis 1 without keepdims gives [4].

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.reduce_sum %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
    func.return
  }
}

// CHECK: hologram.reduce_sum result shape must be (4,) for axes [1]
