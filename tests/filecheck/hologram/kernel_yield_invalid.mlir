// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// the yield must match the kernel results.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.kernel "k"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>):
      %1 = hologram.reduce_sum %a {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
      hologram.yield %1 : tensor<4xf32>
    }
    func.return
  }
}

// CHECK: hologram.yield operands must match the kernel's results
