// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// tfmbs.post adds a residual of its input's type only.

builtin.module {
  func.func @f(%a: tensor<2x4xf32>, %r: tensor<1x4xf32>) {
    %y = tfmbs.post %a, %r {relu} : tensor<2x4xf32>, tensor<1x4xf32> -> tensor<2x4xf32>
    func.return
  }
}

// CHECK: tfmbs.post residual must have its input's type
