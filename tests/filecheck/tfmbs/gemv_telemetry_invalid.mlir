// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// telemetry must carry exactly layer, sparsity, tile_mask, fusion_order, fusion_sparsity.

builtin.module {
  func.func @f(%w: tensor<64x10xi8>, %x: tensor<2x64xi8>, %y: tensor<2x10xi32>) {
    %a = tfmbs.gemv %w, %x, %y {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 0.5 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    func.return
  }
}

// CHECK: telemetry must have exactly the keys layer, sparsity, tile_mask, fusion_order, fusion_sparsity
