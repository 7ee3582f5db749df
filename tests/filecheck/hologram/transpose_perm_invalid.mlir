// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// transpose perm must be a permutation.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.transpose %x {perm = array<i64: 0, 0>} : tensor<4x8xf32> -> tensor<4x4xf32>
    func.return
  }
}

// CHECK: hologram.transpose perm [0, 0] is not a permutation of 2 axes
