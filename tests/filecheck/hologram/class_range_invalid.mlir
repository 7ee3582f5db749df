// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// a class run must lie inside the 96-class pool.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.kernel "k"(%x) {ins_at = [#hologram.class<95, 2>]} : (tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>):
      %1 = hologram.relu %a : tensor<4x8xf32>
      hologram.yield %1 : tensor<4x8xf32>
    }
    func.return
  }
}

// CHECK: #hologram.class<95, 2> is outside the 96-class pool
