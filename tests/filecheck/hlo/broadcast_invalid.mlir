// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// broadcast_in_dim maps operand dimensions to result dimensions of size 1 or equal size.

builtin.module {
  func.func @f(%b: tensor<3xf32>) {
    %r = hlo.broadcast_in_dim %b, dims = [1] : (tensor<3xf32>) -> tensor<2x4xf32>
    func.return
  }
}

// CHECK: hlo.broadcast_in_dim: operand dimension 0 (size 3) cannot broadcast to result dimension 1 (size 4)
