// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// Comparison directions are XLA's six.

builtin.module {
  func.func @f(%a: tensor<4xf32>) {
    %r = hlo.compare "BIGGER", %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
    func.return
  }
}

// CHECK: hlo.compare: direction must be one of EQ, NE, LT, LE, GT, GE, got BIGGER
