// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Attributes are checked for their kind: Flatten's axis is an integer, not a string.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %r = "onnx.Flatten"(%x) {axis = "one"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %r : tensor<2x3xf32>
  }
}

// CHECK: "one" should be of base attribute integer
