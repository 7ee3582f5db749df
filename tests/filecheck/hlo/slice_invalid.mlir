// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Slice bounds must lie inside the operand.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>) {
    %r = hlo.slice %a[[0, 2] : [2, 6] : [1, 1]] : (tensor<2x4xf32>) -> tensor<2x4xf32>
    func.return
  }
}

// CHECK: hlo.slice: dimension 1: slice [2:6:1] is out of bounds for size 4
