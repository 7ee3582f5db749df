// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A segment's yield must match its results.

builtin.module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %s = tsuc.segment "host0" target #tsuc.target<"host">(%x) : (tensor<2xf32>) -> tensor<2xf32> {
    ^bb0(%a: tensor<2xf32>):
      tsuc.yield
    }
    func.return %s : tensor<2xf32>
  }
}

// CHECK: tsuc.yield operands must match
