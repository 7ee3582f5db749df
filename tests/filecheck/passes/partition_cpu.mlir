// RUN: tsuc opt %s -p tsuc-partition{targets=cpu} | filecheck %s
// The cpu target runs nothing itself: every op lands in one host segment, constants are
// cloned into it, and the function only glues segments together.

builtin.module {
  func.func @main(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
    %w = "onnx.Constant"() {value = dense<1.0> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
    %m = "onnx.MatMul"(%x, %w) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
    %r = "onnx.Relu"(%m) : (tensor<1x2xf32>) -> tensor<1x2xf32>
    func.return %r : tensor<1x2xf32>
  }
}

// CHECK:      func.func @main(%[[X:.*]]: tensor<1x4xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:   %[[S:.*]] = tsuc.segment "host0" target #tsuc.target<"host">(%[[X]]) : (tensor<1x4xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:   ^{{.*}}(%[[A:.*]]: tensor<1x4xf32>):
// CHECK-NEXT:     %[[W:.*]] = "onnx.Constant"()
// CHECK-NEXT:     %[[M:.*]] = "onnx.MatMul"(%[[A]], %[[W]])
// CHECK-NEXT:     %[[R:.*]] = "onnx.Relu"(%[[M]])
// CHECK-NEXT:     tsuc.yield %[[R]] : tensor<1x2xf32>
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return %[[S]] : tensor<1x2xf32>
