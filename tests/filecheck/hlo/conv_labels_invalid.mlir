// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// dim_labels must describe layouts of the operands' rank.

builtin.module {
  func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
    %c = hlo.convolution %x, %w {dim_labels = "bf0_oi0->bf0", window_strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, lhs_dilation = array<i64: 1, 1>, rhs_dilation = array<i64: 1, 1>, feature_group_count = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
    func.return
  }
}

// CHECK: hlo.convolution: dim_labels 'bf0_oi0->bf0' do not describe rank-4 layouts
