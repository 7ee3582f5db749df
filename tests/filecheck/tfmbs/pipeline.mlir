// RUN: tsuc opt %s -p tfmbs-lower,tfmbs-allocate,tfmbs-to-linalg | filecheck %s
// The whole tfmbs pipeline on a Conv, down to upstream linalg: im2col as pad + gather, one
// matmul (one trit, one plane), the NCHW result by expand_shape + transpose.

builtin.module {
  func.func @main(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
    %y = tsuc.segment "tfmbs0" target #tsuc.target<"tfmbs", {act_trits = 1 : i64}>(%x) : (tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
    ^bb0(%a: tensor<1x2x4x4xf32>):
      %w = "onnx.Constant"() {value = dense<0.5> : tensor<3x2x3x3xf32>} : () -> tensor<3x2x3x3xf32>
      %r = "onnx.Conv"(%a, %w) {kernel_shape = [3 : i64, 3 : i64], pads = [1 : i64, 1 : i64, 1 : i64, 1 : i64], strides = [2 : i64, 2 : i64]} : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x2x2xf32> loc("conv")
      tsuc.yield %r : tensor<1x3x2x2xf32>
    }
    func.return %y : tensor<1x3x2x2xf32>
  }
}

// CHECK:      tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:      tensor<1x2x6x6xi16>
// CHECK:      affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, ((d1 * 2) + d4), ((d2 * 2) + d5))>
// CHECK:      tensor.collapse_shape %{{.*}} : tensor<1x2x2x2x3x3xi16> into tensor<4x18xi16>
// CHECK:      arith.constant dense_resource<conv.t0> : tensor<18x3xi8>
// CHECK-COUNT-1: linalg.matmul {tile_mask = 1 : i64
// CHECK:      tensor.expand_shape
// CHECK:      linalg.transpose ins(%{{.*}}tensor<1x2x2x3xf32>) outs(%{{.*}}tensor<1x3x2x2xf32>) permutation = [0, 3, 1, 2]
