// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Relu takes exactly one operand.

builtin.module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %r = "onnx.Relu"(%x, %x) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    func.return %r : tensor<2xf32>
  }
}

// CHECK: operand
