// RUN: tsuc opt %s | tsuc opt | filecheck %s
// Every hologram op prints in its declarative form and parses back.

builtin.module {
  func.func @main(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
    %y, %r = hologram.kernel "k0" (%x, %w, %b) {ins_at = [#hologram.class<0, 1>, #hologram.class<1, 1>, #hologram.linear<0, 64>], outs_at = [#hologram.class<2, 1>, #hologram.class<3, 1>]} : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
    ^bb0(%a: tensor<4x8xf32>, %m: tensor<8x8xf32>, %v: tensor<8xf32>):
      %0 = hologram.gemm %a, %m : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
      %1 = hologram.add %0, %v : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
      %2 = hologram.sub %1, %a : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      %3 = hologram.mul %2, %1 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      %4 = hologram.div %3, %v : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
      %5 = hologram.min %4, %3 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      %6 = hologram.max %5, %4 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      %7 = hologram.abs %6 : tensor<4x8xf32>
      %8 = hologram.neg %7 : tensor<4x8xf32>
      %9 = hologram.relu %8 : tensor<4x8xf32>
      %10 = hologram.sqrt %9 : tensor<4x8xf32>
      %11 = hologram.exp %10 : tensor<4x8xf32>
      %12 = hologram.log %11 : tensor<4x8xf32>
      %13 = hologram.tanh %12 : tensor<4x8xf32>
      %14 = hologram.sigmoid %13 : tensor<4x8xf32>
      %15 = hologram.erf %14 : tensor<4x8xf32>
      %16 = hologram.gelu %15 : tensor<4x8xf32>
      %17 = hologram.add_scalar %16 {value = 1.5 : f32} : tensor<4x8xf32>
      %18 = hologram.mul_scalar %17 {value = -2.0 : f32} : tensor<4x8xf32>
      %19 = hologram.clip %18 {min = -1.0 : f32, max = 6.0 : f32} : tensor<4x8xf32>
      %20 = hologram.softmax %19 {axis = -1 : i64} : tensor<4x8xf32>
      %21 = hologram.log_softmax %20 {axis = 1 : i64} : tensor<4x8xf32>
      %22 = hologram.reduce_sum %21 {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
      %23 = hologram.reduce_max %21 {axes = array<i64: 1>, keepdims} : tensor<4x8xf32> -> tensor<4x1xf32>
      %24 = hologram.reduce_min %23 {axes = array<i64: 1>} : tensor<4x1xf32> -> tensor<4xf32>
      %25 = hologram.reduce_mean %24 {axes = array<i64>} : tensor<4xf32> -> tensor<f32>
      %26 = hologram.transpose %21 {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
      %27 = hologram.reshape %26 : tensor<8x4xf32> -> tensor<4x8xf32>
      %28 = hologram.fill {value = 0.0 : f32} : tensor<4x8xf32>
      %29 = hologram.mse_loss %27, %28 : tensor<4x8xf32> -> tensor<f32>
      %30 = hologram.cross_entropy_loss %20, %20 : tensor<4x8xf32> -> tensor<f32>
      %31 = hologram.binary_cross_entropy_loss %14, %14 : tensor<4x8xf32> -> tensor<f32>
      %32 = hologram.gemm %m, %v : tensor<8x8xf32>, tensor<8xf32> -> tensor<8xf32>
      hologram.yield %27, %22 : tensor<4x8xf32>, tensor<4xf32>
    }
    func.return %y, %r : tensor<4x8xf32>, tensor<4xf32>
  }
}

// CHECK:      hologram.kernel "k0"(%{{.*}}, %{{.*}}, %{{.*}}) {ins_at = [#hologram.class<0, 1>, #hologram.class<1, 1>, #hologram.linear<0, 64>], outs_at = [#hologram.class<2, 1>, #hologram.class<3, 1>]} : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
// CHECK:      hologram.gemm %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT: hologram.add %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
// CHECK-NEXT: hologram.sub
// CHECK-NEXT: hologram.mul
// CHECK-NEXT: hologram.div
// CHECK-NEXT: hologram.min
// CHECK-NEXT: hologram.max
// CHECK-NEXT: hologram.abs %{{.*}} : tensor<4x8xf32>
// CHECK-NEXT: hologram.neg
// CHECK-NEXT: hologram.relu
// CHECK-NEXT: hologram.sqrt
// CHECK-NEXT: hologram.exp
// CHECK-NEXT: hologram.log
// CHECK-NEXT: hologram.tanh
// CHECK-NEXT: hologram.sigmoid
// CHECK-NEXT: hologram.erf
// CHECK-NEXT: hologram.gelu
// CHECK-NEXT: hologram.add_scalar %{{.*}} {value = 1.500000e+00 : f32} : tensor<4x8xf32>
// CHECK-NEXT: hologram.mul_scalar %{{.*}} {value = -2.000000e+00 : f32} : tensor<4x8xf32>
// CHECK-NEXT: hologram.clip %{{.*}} {min = -1.000000e+00 : f32, max = 6.000000e+00 : f32} : tensor<4x8xf32>
// CHECK-NEXT: hologram.softmax %{{.*}} {axis = -1 : i64} : tensor<4x8xf32>
// CHECK-NEXT: hologram.log_softmax %{{.*}} {axis = 1 : i64} : tensor<4x8xf32>
// CHECK-NEXT: hologram.reduce_sum %{{.*}} {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
// CHECK-NEXT: hologram.reduce_max %{{.*}} {axes = array<i64: 1>, keepdims} : tensor<4x8xf32> -> tensor<4x1xf32>
// CHECK-NEXT: hologram.reduce_min
// CHECK-NEXT: hologram.reduce_mean %{{.*}} {axes = array<i64>} : tensor<4xf32> -> tensor<f32>
// CHECK-NEXT: hologram.transpose %{{.*}} {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
// CHECK-NEXT: hologram.reshape %{{.*}} : tensor<8x4xf32> -> tensor<4x8xf32>
// CHECK-NEXT: hologram.fill {value = 0.000000e+00 : f32} : tensor<4x8xf32>
// CHECK-NEXT: hologram.mse_loss %{{.*}}, %{{.*}} : tensor<4x8xf32> -> tensor<f32>
// CHECK-NEXT: hologram.cross_entropy_loss
// CHECK-NEXT: hologram.binary_cross_entropy_loss
// CHECK-NEXT: hologram.gemm %{{.*}}, %{{.*}} : tensor<8x8xf32>, tensor<8xf32> -> tensor<8xf32>
// CHECK-NEXT: hologram.yield %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<4xf32>
