// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// gemm needs [M, K] @ [K, N]: K disagrees.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.gemm %x, %w : tensor<4x8xf32>, tensor<5x8xf32> -> tensor<4x8xf32>
    func.return
  }
}

// CHECK: hologram.gemm shapes do not agree
