// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// a kernel holds only hologram vector ops.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.kernel "k"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>):
      %1 = "onnx.Relu"(%a) : (tensor<4x8xf32>) -> tensor<4x8xf32>
      hologram.yield %1 : tensor<4x8xf32>
    }
    func.return
  }
}

// CHECK: hologram.kernel may hold only hologram vector ops, not onnx.Relu
