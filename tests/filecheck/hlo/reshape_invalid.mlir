// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A reshape keeps the element count.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>) {
    %r = hlo.reshape %a : (tensor<2x4xf32>) -> tensor<3x3xf32>
    func.return
  }
}

// CHECK: hlo.reshape: cannot reshape tensor<2x4xf32> to tensor<3x3xf32>
