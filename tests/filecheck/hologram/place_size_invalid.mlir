// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// a placement must hold its buffer (128 B in a 64 B linear range).

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.kernel "k"(%x) {ins_at = [#hologram.linear<0, 64>]} : (tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>):
      %1 = hologram.relu %a : tensor<4x8xf32>
      hologram.yield %1 : tensor<4x8xf32>
    }
    func.return
  }
}

// CHECK: hologram.kernel ins_at: a 128-byte buffer does not fit
