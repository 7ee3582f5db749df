// RUN: tsuc opt %s -p onnx-dce | filecheck %s
// Unused pure ops go, whole chains of them; what the function returns stays.

builtin.module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %dead1 = "onnx.Exp"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    %dead2 = "onnx.Log"(%dead1) : (tensor<2xf32>) -> tensor<2xf32>
    %live = "onnx.Relu"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %live : tensor<2xf32>
  }
}

// CHECK:      func.func @main
// CHECK-NEXT:   %{{.*}} = "onnx.Relu"
// CHECK-NEXT:   func.return
// CHECK-NOT: onnx.Exp
