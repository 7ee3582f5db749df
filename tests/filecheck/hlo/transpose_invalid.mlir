// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A transpose permutation names each dimension once.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>) {
    %r = hlo.transpose %a, dims = [0, 0] : (tensor<2x4xf32>) -> tensor<2x2xf32>
    func.return
  }
}

// CHECK: hlo.transpose: permutation [0, 0] is not a permutation of 2 dimensions
