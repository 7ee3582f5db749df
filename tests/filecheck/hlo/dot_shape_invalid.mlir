// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// The contracting dimensions of a dot_general must have the same size.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>, %b: tensor<3x5xf32>) {
    %d = hlo.dot_general %a, %b {lhs_batching_dimensions = array<i64>, rhs_batching_dimensions = array<i64>, lhs_contracting_dimensions = array<i64: 1>, rhs_contracting_dimensions = array<i64: 0>} : (tensor<2x4xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
    func.return
  }
}

// CHECK: hlo.dot_general: lhs dimension 1 (size 4) and rhs dimension 0 (size 3) must agree
