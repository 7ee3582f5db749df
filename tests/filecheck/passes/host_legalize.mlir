// RUN: tsuc opt %s -p tsuc-host-legalize | filecheck %s
// onnxruntime samples Bernoulli inverted; host segments sample it from a uniform draw instead.

builtin.module {
  func.func @main(%p: tensor<4xf32>) -> tensor<4xf32> {
    %s = tsuc.segment "host0" target #tsuc.target<"host">(%p) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%a: tensor<4xf32>):
      %b = "onnx.Bernoulli"(%a) : (tensor<4xf32>) -> tensor<4xf32>
      tsuc.yield %b : tensor<4xf32>
    }
    func.return %s : tensor<4xf32>
  }
}

// CHECK:      %[[U:.*]] = "onnx.RandomUniformLike"(%[[A:.*]]) {dtype = 1 : i64} : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %[[L:.*]] = "onnx.Less"(%[[U]], %[[A]]) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
// CHECK-NEXT: %[[C:.*]] = "onnx.Cast"(%[[L]]) {to = 1 : i64} : (tensor<4xi1>) -> tensor<4xf32>
// CHECK-NEXT: tsuc.yield %[[C]]
// CHECK-NOT: onnx.Bernoulli
