// RUN: tsuc opt %s -p onnx-constant-fold,onnx-dce | filecheck %s
// Ops on constants are evaluated at compile time; the dead inputs then disappear.

builtin.module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %a = "onnx.Constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %b = "onnx.Constant"() {value = dense<[3.0, 4.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %s = "onnx.Add"(%a, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %r = "onnx.Mul"(%x, %s) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    func.return %r : tensor<2xf32>
  }
}

// CHECK:      func.func @main
// CHECK-NEXT:   %{{.*}} = "onnx.Constant"() {value = dense<[4.000000e+00, 6.000000e+00]> : tensor<2xf32>}
// CHECK-NEXT:   %{{.*}} = "onnx.Mul"
// CHECK-NEXT:   func.return
