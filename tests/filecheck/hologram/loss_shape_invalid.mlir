// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// a loss compares tensors of one shape (types must match).

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.mse_loss %x, %x : tensor<4x8xf32> -> tensor<1xf32>
    func.return
  }
}

// CHECK: must be a 0-d tensor
