// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// vector ops work on f32.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>, %i: tensor<4xi32>) {
    %0 = hologram.relu %i : tensor<4xi32>
    func.return
  }
}

// CHECK: hologram.relu works on f32 tensors
