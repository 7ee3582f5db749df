// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// A grouped convolution's kernel takes input features / groups channels.

builtin.module {
  func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
    %c = hlo.convolution %x, %w {dim_labels = "bf01_oi01->bf01", window_strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, lhs_dilation = array<i64: 1, 1>, rhs_dilation = array<i64: 1, 1>, feature_group_count = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
    func.return
  }
}

// CHECK: hlo.convolution: input features 4 / 2 groups must equal the kernel's input features 4
