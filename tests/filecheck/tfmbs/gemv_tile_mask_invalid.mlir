// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// telemetry's tile_mask must be the op's.

builtin.module {
  func.func @f(%w: tensor<64x10xi8>, %x: tensor<2x64xi8>, %y: tensor<2x10xi32>) {
    %a = tfmbs.gemv %w, %x, %y {tile_mask = 3 : i64, telemetry = {layer = "fc", sparsity = 0.5 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 0.5 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    func.return
  }
}

// CHECK: telemetry tile_mask must equal the op's tile_mask
