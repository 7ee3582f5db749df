// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// softmax axis must name an axis of the operand.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.softmax %x {axis = 2 : i64} : tensor<4x8xf32>
    func.return
  }
}

// CHECK: hologram.softmax axis 2 is out of range for rank 2
