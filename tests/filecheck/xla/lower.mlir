// RUN: tsuc opt %s -p xla-lower | filecheck %s
// onnx ops in an xla segment become hlo ops; weights stay blob handles; host segments are untouched.

builtin.module {
  func.func @main(%x: tensor<1x4x8x8xf32>) -> tensor<1x6xf32> {
    %y = tsuc.segment "xla0" target #tsuc.target<"xla">(%x) : (tensor<1x4x8x8xf32>) -> tensor<1x6xf32> {
    ^bb0(%a: tensor<1x4x8x8xf32>):
      %w = "onnx.Constant"() {value = dense_resource<conv_w> : tensor<6x2x3x3xf32>} : () -> tensor<6x2x3x3xf32>
      %c = "onnx.Conv"(%a, %w) {group = 2 : i64, pads = [1 : i64, 1 : i64, 1 : i64, 1 : i64]} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x8x8xf32>
      %r = "onnx.Relu"(%c) : (tensor<1x6x8x8xf32>) -> tensor<1x6x8x8xf32>
      %p = "onnx.GlobalAveragePool"(%r) : (tensor<1x6x8x8xf32>) -> tensor<1x6x1x1xf32>
      %f = "onnx.Flatten"(%p) : (tensor<1x6x1x1xf32>) -> tensor<1x6xf32>
      tsuc.yield %f : tensor<1x6xf32>
    }
    func.return %y : tensor<1x6xf32>
  }
}

// CHECK:      %w = hlo.constant dense_resource<conv_w> : tensor<6x2x3x3xf32>
// CHECK:      hlo.convolution %a, %w {dim_labels = "bf01_oi01->bf01", window_strides = array<i64: 1, 1>, padding_low = array<i64: 1, 1>, padding_high = array<i64: 1, 1>, lhs_dilation = array<i64: 1, 1>, rhs_dilation = array<i64: 1, 1>, feature_group_count = 2 : i64}
// CHECK:      hlo.maximum
// CHECK:      hlo.reduce({{.*}}) dims = [2, 3]
// CHECK:      hlo.divide
// CHECK:      hlo.reshape {{.*}} : (tensor<1x6x1x1xf32>) -> tensor<1x6xf32>
// CHECK-NOT:  "onnx.
// CHECK:      tsuc.yield
