// RUN: tsuc opt %s | filecheck %s
// Optional and variadic operands and results: BatchNormalization has optional results,
// Concat a variadic operand, Clip two optional operands.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %m: tensor<3xf32>) -> tensor<4x3xf32> {
    %lo = "onnx.Constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %c = "onnx.Clip"(%x, %lo) <{operandSegmentSizes = array<i32: 1, 1, 0>}> : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %cat = "onnx.Concat"(%c, %x) {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
    func.return %cat : tensor<4x3xf32>
  }
}

// CHECK: "onnx.Clip"(%{{.*}}, %{{.*}}) <{operandSegmentSizes = array<i32: 1, 1, 0>}>
// CHECK: "onnx.Concat"(%{{.*}}, %{{.*}}) {axis = 0 : i64}
