// RUN: tsuc opt %s | filecheck %s
// RUN: tsuc opt %s | tsuc opt | filecheck %s
// Every tfmbs op and the !tfmbs.pt5 type print back in their custom forms.

builtin.module {
  func.func @layer(%x: tensor<2x64xf32>, %t: tensor<64x10xi8>, %ws: tensor<1x10xf32>, %b: tensor<10xf32>) -> tensor<2x10xf32> {
    %q, %s = tfmbs.quantize %x {act_trits = 2 : i64} : tensor<2x64xf32> -> tensor<2x64xi16>, tensor<f64>
    %x0 = tfmbs.trit_plane %q {plane = 0 : i64} : tensor<2x64xi16> -> tensor<2x64xi8>
    %x1 = tfmbs.trit_plane %q {plane = 1 : i64} : tensor<2x64xi16> -> tensor<2x64xi8>
    %p = tfmbs.pack %t : tensor<64x10xi8> -> !tfmbs.pt5<64x10, mod3>
    %w = tfmbs.dma_load %p {bank = "A", addr = 4096 : i64, words = 64 : i64, resident} : !tfmbs.pt5<64x10, mod3> -> tensor<64x10xi8>
    %z = arith.constant dense<0> : tensor<2x10xi32>
    %a0 = tfmbs.gemv %w, %x0, %z {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 0.25 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 0.25 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    %a1 = tfmbs.gemv %w, %x1, %z {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 0.25 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 0.25 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
    %y = tfmbs.combine %a0, %a1, %s, %ws, %b {act_trits = 2 : i64, w_planes = 1 : i64, layout = "rows"} : (tensor<2x10xi32>, tensor<2x10xi32>, tensor<f64>, tensor<1x10xf32>, tensor<10xf32>) -> tensor<2x10xf32>
    %r = tfmbs.post %y : tensor<2x10xf32> -> tensor<2x10xf32>
    %o = tfmbs.post %y, %r {relu} : tensor<2x10xf32>, tensor<2x10xf32> -> tensor<2x10xf32>
    func.return %o : tensor<2x10xf32>
  }
  func.func @conv(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xi16> {
    %q, %s = tfmbs.quantize %x {act_trits = 1 : i64} : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xi16>, tensor<f64>
    %c = tfmbs.im2col %q {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 0 : i64, groups = 1 : i64} : tensor<1x3x8x8xi16> -> tensor<16x27xi16>
    func.return %q : tensor<1x3x8x8xi16>
  }
}

// CHECK:      %{{.*}}, %{{.*}} = tfmbs.quantize %{{.*}} {act_trits = 2 : i64} : tensor<2x64xf32> -> tensor<2x64xi16>, tensor<f64>
// CHECK:      tfmbs.trit_plane %{{.*}} {plane = 0 : i64} : tensor<2x64xi16> -> tensor<2x64xi8>
// CHECK:      tfmbs.pack %{{.*}} : tensor<64x10xi8> -> !tfmbs.pt5<64x10, mod3>
// CHECK:      tfmbs.dma_load %{{.*}} {bank = "A", addr = 4096 : i64, words = 64 : i64, resident} : !tfmbs.pt5<64x10, mod3> -> tensor<64x10xi8>
// CHECK:      tfmbs.gemv %{{.*}}, %{{.*}}, %{{.*}} {tile_mask = 1 : i64, telemetry = {layer = "fc", sparsity = 2.500000e-01 : f64, tile_mask = 1 : i64, fusion_order = 0 : i64, fusion_sparsity = 2.500000e-01 : f64}} : (tensor<64x10xi8>, tensor<2x64xi8>, tensor<2x10xi32>) -> tensor<2x10xi32>
// CHECK:      tfmbs.combine %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {act_trits = 2 : i64, w_planes = 1 : i64, layout = "rows"} : (tensor<2x10xi32>, tensor<2x10xi32>, tensor<f64>, tensor<1x10xf32>, tensor<10xf32>) -> tensor<2x10xf32>
// CHECK-NEXT: %[[R:.*]] = tfmbs.post %[[Y:.*]] : tensor<2x10xf32> -> tensor<2x10xf32>
// CHECK-NEXT: tfmbs.post %[[Y]], %[[R]] {relu} : tensor<2x10xf32>, tensor<2x10xf32> -> tensor<2x10xf32>
// CHECK:      tfmbs.im2col %{{.*}} {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 0 : i64, groups = 1 : i64} : tensor<1x3x8x8xi16> -> tensor<16x27xi16>
