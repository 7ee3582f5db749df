// RUN: tsuc opt %s -p tfmbs-lower | filecheck %s
// The fold: a BatchNormalization after a Gemm goes into the layer's weight scales and bias (new
// blob constants, the BN gone), the residual Add and the Relu after it become one tfmbs.post.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %z: tensor<2x4xf32>) -> tensor<2x4xf32> {
    %y = tsuc.segment "tfmbs0" target #tsuc.target<"tfmbs", {act_trits = 2 : i64}>(%x, %z) : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x4xf32> {
    ^bb0(%a: tensor<2x3xf32>, %res: tensor<2x4xf32>):
      %w = "onnx.Constant"() {value = dense<[[0.5, -1.0, 0.1], [0.0, 2.0, -0.3], [1.0, 1.0, 1.0], [-0.7, 0.2, 0.9]]> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
      %g = "onnx.Constant"() {value = dense<[1.0, 2.0, 0.5, 1.5]> : tensor<4xf32>} : () -> tensor<4xf32>
      %be = "onnx.Constant"() {value = dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf32>} : () -> tensor<4xf32>
      %m = "onnx.Constant"() {value = dense<[0.0, 1.0, -1.0, 0.5]> : tensor<4xf32>} : () -> tensor<4xf32>
      %v = "onnx.Constant"() {value = dense<[1.0, 4.0, 0.25, 2.0]> : tensor<4xf32>} : () -> tensor<4xf32>
      %h = "onnx.Gemm"(%a, %w) {transB = 1 : i64} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32> loc("fc")
      %n = "onnx.BatchNormalization"(%h, %g, %be, %m, %v) <{resultSegmentSizes = array<i32: 1, 0, 0>}> {epsilon = 1.0e-05 : f32} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32> loc("bn")
      %s = "onnx.Add"(%res, %n) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32> loc("add")
      %t = "onnx.Relu"(%s) : (tensor<2x4xf32>) -> tensor<2x4xf32> loc("relu")
      tsuc.yield %t : tensor<2x4xf32>
    }
    func.return %y : tensor<2x4xf32>
  }
}

// CHECK-NOT:  onnx.BatchNormalization
// CHECK:      %[[WS:.*]] = "onnx.Constant"() {value = dense_resource<fc.scales.bn> : tensor<1x4xf32>}
// CHECK-NEXT: %[[B:.*]] = "onnx.Constant"() {value = dense_resource<fc.bias.bn> : tensor<4xf32>}
// CHECK-NEXT: %[[C:.*]] = tfmbs.combine {{.*}}, %[[WS]], %[[B]] {act_trits = 2 : i64, w_planes = 1 : i64, layout = "rows"}
// CHECK-NEXT: %[[P:.*]] = tfmbs.post %[[C]], %res {relu} : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: tsuc.yield %[[P]] : tensor<2x4xf32>
// CHECK-NOT:  onnx.Add
// CHECK-NOT:  onnx.Relu
