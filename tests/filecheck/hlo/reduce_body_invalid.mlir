// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A reduction body takes scalar accumulators and elements and returns one scalar per input.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>, %z: tensor<f32>) {
    %r = hlo.reduce(%a init : %z) dims = [1] : (tensor<2x4xf32>) init(tensor<f32>) -> (tensor<2xf32>) {
    ^bb0(%p: tensor<f32>):
      hlo.return %p : tensor<f32>
    }
    func.return
  }
}

// CHECK: hlo.reduce: body must take 2 scalar arguments (accumulators, then elements)
