// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// add operands must broadcast (4 vs 3 rows).

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.add %x, %y : tensor<4x8xf32>, tensor<3x8xf32> -> tensor<4x8xf32>
    func.return
  }
}

// CHECK: hologram.add operand shapes (4, 8) and (3, 8) do not broadcast
