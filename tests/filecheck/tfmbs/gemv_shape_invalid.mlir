// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// gemv needs w [K, N], x [M, K], y [M, N]: here K disagrees.

builtin.module {
  func.func @f(%w: tensor<64x10xi8>, %x: tensor<2x32xi8>, %y: tensor<2x10xi32>) {
    %a = tfmbs.gemv %w, %x, %y {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 0.5 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 0.5 : f64}} : (tensor<64x10xi8>, tensor<2x32xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    func.return
  }
}

// CHECK: tfmbs.gemv shapes do not agree
