// RUN: tsuc opt %s -p 'hologram-lower,hologram-canonicalize,hologram-fuse,hologram-allocate' | filecheck %s
// A partitioned segment: LayerNormalization, a residual add and GELU. The lowering is literal
// (9 ops for the LayerNorm), canonicalisation folds gamma, beta and x*1 into two scalar ops, fusion makes one kernel per
// iteration space, allocation places every buffer between kernels.

builtin.module {
  func.func @main(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
    %y = tsuc.segment "hologram0" target #tsuc.target<"hologram">(%x) : (tensor<4x32xf32>) -> tensor<4x32xf32> {
    ^bb0(%a: tensor<4x32xf32>):
      %g = "onnx.Constant"() {value = dense<1.5> : tensor<32xf32>} : () -> tensor<32xf32>
      %b = "onnx.Constant"() {value = dense<0.25> : tensor<32xf32>} : () -> tensor<32xf32>
      %one = "onnx.Constant"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
      %ln = "onnx.LayerNormalization"(%a, %g, %b) <{resultSegmentSizes = array<i32: 1, 0, 0>}> {axis = -1 : i64, epsilon = 1.0e-05 : f32} : (tensor<4x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
      %m = "onnx.Mul"(%ln, %one) : (tensor<4x32xf32>, tensor<f32>) -> tensor<4x32xf32>
      %r = "onnx.Add"(%m, %a) : (tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<4x32xf32>
      %o = "onnx.Gelu"(%r) : (tensor<4x32xf32>) -> tensor<4x32xf32>
      tsuc.yield %o : tensor<4x32xf32>
    }
    func.return %y : tensor<4x32xf32>
  }
}

// CHECK:      tsuc.segment "hologram0" target #tsuc.target<"hologram">(%{{.*}}) {hologram.ops_original = 12 : i64, hologram.ops_canonical = 11 : i64, hologram.classes_used = 1 : i64, hologram.peak_classes = 1 : i64, hologram.spill_bytes = 0 : i64, hologram.linear_bytes = 0 : i64}
// CHECK:      hologram.kernel "k0"(%{{.*}}) {ins_at = [#hologram.pages<0, 0, 2>], outs_at = [#hologram.pages<0, 2, 1>]}
// CHECK:        hologram.reduce_mean
// CHECK:      hologram.kernel "k1"
// CHECK:        hologram.sub
// CHECK-NEXT:   hologram.mul
// CHECK-NEXT:   hologram.reduce_mean
// CHECK:      hologram.kernel "k2"
// CHECK:        hologram.add_scalar
// CHECK-NEXT:   hologram.sqrt
// CHECK:      hologram.kernel "k3"
// CHECK:        hologram.div
// CHECK-NEXT:   hologram.mul_scalar %{{.*}} {value = 1.500000e+00 : f32}
// CHECK-NEXT:   hologram.add_scalar %{{.*}} {value = 2.500000e-01 : f32}
// CHECK-NEXT:   hologram.add
// CHECK-NEXT:   hologram.gelu
// CHECK-NEXT:   hologram.yield
// CHECK-NOT:  hologram.kernel
