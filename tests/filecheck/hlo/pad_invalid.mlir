// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// The padding value is a scalar of the operand's element type.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>, %v: tensor<2xf32>) {
    %r = hlo.pad %a, %v {edge_padding_low = array<i64: 1, 0>, edge_padding_high = array<i64: 0, 0>, interior_padding = array<i64: 0, 0>} : (tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x4xf32>
    func.return
  }
}

// CHECK: hlo.pad: padding value must be a scalar of the operand's element type
