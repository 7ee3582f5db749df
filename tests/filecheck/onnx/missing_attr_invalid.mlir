// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Concat requires its `axis` attribute.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<4x3xf32> {
    %cat = "onnx.Concat"(%x, %x) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
    func.return %cat : tensor<4x3xf32>
  }
}

// CHECK: attribute 'axis' expected in operation 'onnx.Concat'
