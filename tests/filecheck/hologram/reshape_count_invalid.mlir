// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// reshape keeps the element count.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.reshape %x : tensor<4x8xf32> -> tensor<4x4xf32>
    func.return
  }
}

// CHECK: hologram.reshape must keep the number of elements
