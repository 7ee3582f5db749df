// RUN: tsuc opt %s -p tfmbs-lower,tfmbs-allocate | filecheck %s
// A Gemm in a tfmbs segment becomes quantize -> trit planes -> (pack, dma_load) per weight plane
// -> one gemv per (trit, plane) -> combine; weights go to the blob store (dense_resource handles).

builtin.module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x4xf32> {
    %y = tsuc.segment "tfmbs0" target #tsuc.target<"tfmbs", {act_trits = 2 : i64, w_planes = 2 : i64}>(%x) : (tensor<2x3xf32>) -> tensor<2x4xf32> {
    ^bb0(%a: tensor<2x3xf32>):
      %w = "onnx.Constant"() {value = dense<[[0.5, -1.0, 0.1], [0.0, 2.0, -0.3], [1.0, 1.0, 1.0], [-0.7, 0.2, 0.9]]> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
      %b = "onnx.Constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
      %r = "onnx.Gemm"(%a, %w, %b) {transB = 1 : i64} : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32> loc("fc")
      tsuc.yield %r : tensor<2x4xf32>
    }
    func.return %y : tensor<2x4xf32>
  }
}

// CHECK:      tfmbs.quantize %{{.*}} {act_trits = 2 : i64} : tensor<2x3xf32> -> tensor<2x3xi16>, tensor<f64>
// CHECK:      tfmbs.trit_plane %{{.*}} {plane = 0 : i64} : tensor<2x3xi16> -> tensor<2x3xi8>
// CHECK:      tfmbs.trit_plane %{{.*}} {plane = 1 : i64} : tensor<2x3xi16> -> tensor<2x3xi8>
// CHECK:      arith.constant dense<0> : tensor<2x4xi32>
// CHECK:      "onnx.Constant"() {value = dense_resource<fc.t0> : tensor<3x4xi8>}
// CHECK:      tfmbs.pack %{{.*}} : tensor<3x4xi8> -> !tfmbs.pt5<3x4, mod3>
// CHECK:      tfmbs.dma_load %{{.*}} {bank = "A", addr = 4096 : i64, words = 3 : i64, resident}
// CHECK:      "onnx.Constant"() {value = dense_resource<fc.t1> : tensor<3x4xi8>}
// CHECK:      tfmbs.dma_load %{{.*}} {bank = "A", addr = 4108 : i64, words = 3 : i64, resident}
// CHECK-COUNT-4: tfmbs.gemv {{.*}} {tile_mask = 1 : i64, telemetry = {layer = "fc", {{.*}}fusion_order = 0 : i64{{.*}}}, schedule = {mode = "resident", a_base = 0 : i64, groups = 1 : i64, chunks = 1 : i64, frames_per_row = 4 : i64, rows = 2 : i64}}
// CHECK:      dense_resource<fc.scales> : tensor<2x4xf32>
// CHECK:      dense_resource<fc.bias> : tensor<4xf32>
// CHECK:      tfmbs.combine {{.*}} {act_trits = 2 : i64, w_planes = 2 : i64, layout = "rows"}
// CHECK-NOT:  onnx.Gemm
