// RUN: tsuc opt %s -p onnx-shape-inference | filecheck %s
// Dynamic and unranked result types are refined from the operands.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %y: tensor<3x5xf32>) -> tensor<*xf32> {
    %m = "onnx.MatMul"(%x, %y) : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<*xf32>
    %r = "onnx.Relu"(%m) : (tensor<*xf32>) -> tensor<?x?xf32>
    %t = "onnx.Transpose"(%r) {perm = [1 : i64, 0 : i64]} : (tensor<?x?xf32>) -> tensor<*xf32>
    func.return %t : tensor<*xf32>
  }
}

// CHECK: "onnx.MatMul"(%{{.*}}, %{{.*}}) : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
// CHECK: "onnx.Relu"(%{{.*}}) : (tensor<2x5xf32>) -> tensor<2x5xf32>
// CHECK: "onnx.Transpose"(%{{.*}}) {perm = [1 : i64, 0 : i64]} : (tensor<2x5xf32>) -> tensor<5x2xf32>
