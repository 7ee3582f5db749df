// RUN: tsuc opt %s -p tfmbs-to-linalg | filecheck %s
// gemv -> linalg.matmul ins(%x, %w) outs(%y) (trits sign-extended to i32 first), keeping
// tile_mask and telemetry; pack and dma_load are data movement and vanish.

builtin.module {
  func.func @f(%x: tensor<2x64xi8>, %t: tensor<64x10xi8>, %z: tensor<2x10xi32>) -> tensor<2x10xi32> {
    %p = tfmbs.pack %t : tensor<64x10xi8> -> !tfmbs.pt5<64x10, mod3>
    %w = tfmbs.dma_load %p {bank = "A", addr = 4096 : i64, words = 64 : i64, resident} : !tfmbs.pt5<64x10, mod3> -> tensor<64x10xi8>
    %a = tfmbs.gemv %w, %x, %z {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 0.25 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 0.25 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    func.return %a : tensor<2x10xi32>
  }
}

// CHECK-NOT:  tfmbs.
// CHECK:      %[[X:.*]] = linalg.generic {{.*}} ins(%x : tensor<2x64xi8>) outs(%{{.*}} : tensor<2x64xi32>)
// CHECK:        arith.extsi %{{.*}} : i8 to i32
// CHECK:      %[[W:.*]] = linalg.generic {{.*}} ins(%t : tensor<64x10xi8>) outs(%{{.*}} : tensor<64x10xi32>)
// CHECK:      linalg.matmul {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 2.500000e-01 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 2.500000e-01 : f64}} ins(%[[X]], %[[W]] : tensor<2x64xi32>, tensor<64x10xi32>) outs(%z : tensor<2x10xi32>) -> tensor<2x10xi32>
