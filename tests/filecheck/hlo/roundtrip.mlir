// RUN: tsuc opt %s | tsuc opt | filecheck %s
// Every hlo op prints in its declarative form and parses back to the same text.

builtin.module {
  func.func @f(%x: tensor<1x3x8x8xf32>, %a: tensor<2x4xf32>, %b: tensor<4x5xf32>, %i: tensor<3xi64>, %s: tensor<i64>) {
    %w = hlo.constant dense_resource<conv1_w> : tensor<4x3x3x3xf32>
    %z = hlo.constant dense<0.000000e+00> : tensor<f32>
    %c = hlo.convolution %x, %w {dim_labels = "bf01_oi01->bf01", window_strides = array<i64: 1, 1>, padding_low = array<i64: 1, 1>, padding_high = array<i64: 1, 1>, lhs_dilation = array<i64: 1, 1>, rhs_dilation = array<i64: 1, 1>, feature_group_count = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
    %d = hlo.dot_general %a, %b {lhs_batching_dimensions = array<i64>, rhs_batching_dimensions = array<i64>, lhs_contracting_dimensions = array<i64: 1>, rhs_contracting_dimensions = array<i64: 0>} : (tensor<2x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
    %r = hlo.reduce(%c init: %z) dims = [2, 3] : (tensor<1x4x8x8xf32>) init (tensor<f32>) -> (tensor<1x4xf32>) {
    ^bb0(%p: tensor<f32>, %q: tensor<f32>):
      %t = hlo.add %p, %q : tensor<f32>
      hlo.return %t : tensor<f32>
    }
    %m = hlo.reduce_window(%c init: %z) {window_dimensions = array<i64: 1, 1, 2, 2>, window_strides = array<i64: 1, 1, 2, 2>, padding_low = array<i64: 0, 0, 0, 0>, padding_high = array<i64: 0, 0, 0, 0>, window_dilations = array<i64: 1, 1, 1, 1>} : (tensor<1x4x8x8xf32>) init (tensor<f32>) -> (tensor<1x4x4x4xf32>) {
    ^bb0(%p: tensor<f32>, %q: tensor<f32>):
      %t = hlo.maximum %p, %q : tensor<f32>
      hlo.return %t : tensor<f32>
    }
    %bz = hlo.broadcast_in_dim %z, dims = [] : (tensor<f32>) -> tensor<1x4x4x4xf32>
    %e = hlo.exponential %m : tensor<1x4x4x4xf32>
    %n = hlo.negate %e : tensor<1x4x4x4xf32>
    %sum = hlo.add %n, %bz : tensor<1x4x4x4xf32>
    %cmp = hlo.compare "GT", %sum, %bz : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xi1>
    %sel = hlo.select %cmp, %sum, %bz : (tensor<1x4x4x4xi1>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %cl = hlo.clamp %z, %sel, %z : (tensor<f32>, tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
    %rs = hlo.reshape %cl : (tensor<1x4x4x4xf32>) -> tensor<4x16xf32>
    %tr = hlo.transpose %rs, dims = [1, 0] : (tensor<4x16xf32>) -> tensor<16x4xf32>
    %sl = hlo.slice %tr [[0, 1] : [16, 4] : [2, 1]] : (tensor<16x4xf32>) -> tensor<8x3xf32>
    %ds = hlo.dynamic_slice %tr [%s, %s] sizes = [2, 2] : (tensor<16x4xf32>, tensor<i64>, tensor<i64>) -> tensor<2x2xf32>
    %pd = hlo.pad %sl, %z {edge_padding_low = array<i64: 1, 0>, edge_padding_high = array<i64: 0, -1>, interior_padding = array<i64: 0, 0>} : (tensor<8x3xf32>, tensor<f32>) -> tensor<9x2xf32>
    %cc = hlo.concatenate (%pd, %pd) dim = 0 : (tensor<9x2xf32>, tensor<9x2xf32>) -> tensor<18x2xf32>
    %io = hlo.iota dim = 0 : tensor<3xi64>
    %g = hlo.gather %tr, %i {offset_dims = array<i64: 1>, collapsed_slice_dims = array<i64: 0>, start_index_map = array<i64: 0>, index_vector_dim = 1 : i64, slice_sizes = array<i64: 1, 4>} : (tensor<16x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
    %cv = hlo.convert %io : (tensor<3xi64>) -> tensor<3xf32>
    func.return
  }
}

// CHECK:      %w = hlo.constant dense_resource<conv1_w> : tensor<4x3x3x3xf32>
// CHECK:      hlo.convolution %x, %w {dim_labels = "bf01_oi01->bf01"
// CHECK-SAME: feature_group_count = 1 : i64
// CHECK:      hlo.dot_general %a, %b {
// CHECK:      hlo.reduce(%c init : %z) dims = [2, 3]
// CHECK:        hlo.add
// CHECK-NEXT:   hlo.return
// CHECK:      hlo.reduce_window(%c init : %z) {window_dimensions = array<i64: 1, 1, 2, 2>
// CHECK:      hlo.broadcast_in_dim %z, dims = [] : (tensor<f32>) -> tensor<1x4x4x4xf32>
// CHECK:      hlo.exponential %m : tensor<1x4x4x4xf32>
// CHECK:      hlo.compare "GT", %sum, %bz
// CHECK:      hlo.select %cmp, %sum, %bz
// CHECK:      hlo.clamp %z, %sel, %z
// CHECK:      hlo.reshape %cl
// CHECK:      hlo.transpose %rs, dims = [1, 0]
// CHECK:      hlo.slice %tr[[0, 1] : [16, 4] : [2, 1]]
// CHECK:      hlo.dynamic_slice %tr[%s, %s] sizes = [2, 2]
// CHECK:      hlo.pad %sl, %z {edge_padding_low = array<i64: 1, 0>
// CHECK:      hlo.concatenate(%pd, %pd) dim = 0
// CHECK:      hlo.iota dim = 0 : tensor<3xi64>
// CHECK:      hlo.gather %tr, %i
// CHECK:      hlo.convert %io : (tensor<3xi64>) -> tensor<3xf32>
