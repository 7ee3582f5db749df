// RUN: tsuc opt %s -p hologram-canonicalize | filecheck %s
// Each function exercises one family of patterns; the segment records the op counts.

builtin.module {
  func.func @identities(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %y = tsuc.segment "hologram0" target #tsuc.target<"hologram">(%x) {hologram.ops_original = 7 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>):
      %one = "onnx.Constant"() {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>
      %zero = "onnx.Constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
      %0 = hologram.mul %a, %one : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
      %1 = hologram.add %0, %zero : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
      %2 = hologram.neg %1 : tensor<4x8xf32>
      %3 = hologram.neg %2 : tensor<4x8xf32>
      %4 = hologram.relu %3 : tensor<4x8xf32>
      %5 = hologram.relu %4 : tensor<4x8xf32>
      %6 = hologram.sub %5, %5 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      %7 = hologram.add %6, %4 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
      tsuc.yield %7 : tensor<4x8xf32>
    }
    func.return %y : tensor<4x8xf32>
  }
// CHECK-LABEL: func.func @identities
// CHECK:       hologram.ops_canonical = 1
// CHECK:       %[[R:.*]] = hologram.relu %{{.*}} : tensor<4x8xf32>
// CHECK-NEXT:  tsuc.yield %[[R]]

  func.func @affine(%x: tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32> {
    %y = tsuc.segment "hologram0" target #tsuc.target<"hologram">(%x) : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32> {
    ^bb0(%a: tensor<2x3x4x4xf32>):
      %m = "onnx.Constant"() {value = dense<[[[1.0]], [[2.0]], [[3.0]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
      %s = "onnx.Constant"() {value = dense<[[[2.0]], [[4.0]], [[8.0]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
      %g = "onnx.Constant"() {value = dense<[[[1.0]], [[1.0]], [[1.0]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
      %b = "onnx.Constant"() {value = dense<[[[0.5]], [[0.5]], [[0.5]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
      %0 = hologram.sub %a, %m : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
      %1 = hologram.div %0, %s : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
      %2 = hologram.mul %1, %g : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
      %3 = hologram.add %2, %b : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
      %4 = hologram.mul_scalar %3 {value = 2.0 : f32} : tensor<2x3x4x4xf32>
      %5 = hologram.mul_scalar %4 {value = 0.5 : f32} : tensor<2x3x4x4xf32>
      tsuc.yield %5 : tensor<2x3x4x4xf32>
    }
    func.return %y : tensor<2x3x4x4xf32>
  }
// CHECK-LABEL: func.func @affine
// CHECK:       hologram.ops_canonical = 2
// CHECK:       hologram.mul %{{.*}}, %{{.*}} : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
// CHECK:       hologram.add %{{.*}}, %{{.*}} : tensor<2x3x4x4xf32>, tensor<3x1x1xf32> -> tensor<2x3x4x4xf32>
// CHECK-NEXT:  tsuc.yield

  func.func @activations(%x: tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) {
    %y:3 = tsuc.segment "hologram0" target #tsuc.target<"hologram">(%x) : (tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) {
    ^bb0(%a: tensor<16xf32>):
      %one = "onnx.Constant"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
      %h = hologram.mul_scalar %a {value = 0.5 : f32} : tensor<16xf32>
      %t = hologram.tanh %h : tensor<16xf32>
      %t1 = hologram.add_scalar %t {value = 1.0 : f32} : tensor<16xf32>
      %s1 = hologram.mul_scalar %t1 {value = 0.5 : f32} : tensor<16xf32>
      %n = hologram.neg %a : tensor<16xf32>
      %e = hologram.exp %n : tensor<16xf32>
      %d = hologram.add_scalar %e {value = 1.0 : f32} : tensor<16xf32>
      %s2 = hologram.div %one, %d : tensor<f32>, tensor<16xf32> -> tensor<16xf32>
      %z = hologram.mul_scalar %a {value = 0.70710678 : f32} : tensor<16xf32>
      %r = hologram.erf %z : tensor<16xf32>
      %r1 = hologram.add_scalar %r {value = 1.0 : f32} : tensor<16xf32>
      %xh = hologram.mul_scalar %a {value = 0.5 : f32} : tensor<16xf32>
      %g = hologram.mul %xh, %r1 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
      tsuc.yield %s1, %s2, %g : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
    }
    func.return %y#0, %y#1, %y#2 : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
  }
// CHECK-LABEL: func.func @activations
// CHECK:       hologram.ops_canonical = 2
// CHECK:       %[[S:.*]] = hologram.sigmoid %{{.*}} : tensor<16xf32>
// CHECK:       %[[G:.*]] = hologram.gelu %{{.*}} : tensor<16xf32>
// CHECK-NEXT:  tsuc.yield %[[S]], %[[S]], %[[G]]

  func.func @layout(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
    %y = tsuc.segment "hologram0" target #tsuc.target<"hologram">(%x) : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
    ^bb0(%a: tensor<2x3x4xf32>):
      %0 = hologram.transpose %a {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
      %1 = hologram.transpose %0 {perm = array<i64: 1, 2, 0>} : tensor<4x2x3xf32> -> tensor<2x3x4xf32>
      %2 = hologram.reshape %1 : tensor<2x3x4xf32> -> tensor<6x4xf32>
      %3 = hologram.reshape %2 : tensor<6x4xf32> -> tensor<24xf32>
      %4 = hologram.relu %3 : tensor<24xf32>
      %5 = hologram.reshape %4 : tensor<24xf32> -> tensor<2x3x4xf32>
      %6 = hologram.reshape %5 : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
      tsuc.yield %6 : tensor<2x3x4xf32>
    }
    func.return %y : tensor<2x3x4xf32>
  }
// CHECK-LABEL: func.func @layout
// CHECK:       hologram.ops_canonical = 3
// CHECK:       hologram.reshape %{{.*}} : tensor<2x3x4xf32> -> tensor<24xf32>
// CHECK-NEXT:  hologram.relu
// CHECK-NEXT:  hologram.reshape %{{.*}} : tensor<24xf32> -> tensor<2x3x4xf32>
// CHECK-NOT:   hologram.transpose
}
