// RUN: tsuc opt %s | tsuc opt | filecheck %s
// The generated onnx dialect parses and prints back to the same IR, weights by handle.

builtin.module {
  func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x4xf32> {
    %w = "onnx.Constant"() {value = dense_resource<conv_w> : tensor<4x3x3x3xf32>} : () -> tensor<4x3x3x3xf32>
    %c = "onnx.Conv"(%x, %w) {kernel_shape = [3 : i64, 3 : i64], pads = [1 : i64, 1 : i64, 1 : i64, 1 : i64]} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
    %r = "onnx.Relu"(%c) : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
    %p = "onnx.GlobalAveragePool"(%r) : (tensor<1x4x8x8xf32>) -> tensor<1x4x1x1xf32>
    %s = "onnx.Flatten"(%p) {axis = 1 : i64} : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
    func.return %s : tensor<1x4xf32>
  }
}

// CHECK:      func.func @main(%{{.*}}: tensor<1x3x8x8xf32>) -> tensor<1x4xf32> {
// CHECK-NEXT:   %{{.*}} = "onnx.Constant"() {value = dense_resource<conv_w> : tensor<4x3x3x3xf32>} : () -> tensor<4x3x3x3xf32>
// CHECK-NEXT:   %{{.*}} = "onnx.Conv"(%{{.*}}, %{{.*}}) {kernel_shape = [3 : i64, 3 : i64], pads = [1 : i64, 1 : i64, 1 : i64, 1 : i64]}
// CHECK-NEXT:   %{{.*}} = "onnx.Relu"
// CHECK-NEXT:   %{{.*}} = "onnx.GlobalAveragePool"
// CHECK-NEXT:   %{{.*}} = "onnx.Flatten"(%{{.*}}) {axis = 1 : i64}
// CHECK-NEXT:   func.return
