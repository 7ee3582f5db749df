// RUN: tsuc opt %s -p tsu-lower-sampling | filecheck %s
// ONNX random ops inside tsu segments become tsu.sample; outside them nothing changes.

builtin.module {
  func.func @main(%p: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>, tensor<2x3xf32>) {
    %b, %u, %n, %r = tsuc.segment "tsu0" target #tsuc.target<"tsu">(%p) : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>) {
    ^bb0(%a: tensor<2x3xf32>):
      %0 = "onnx.Bernoulli"(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32>
      %1 = "onnx.RandomUniformLike"(%a) {low = -2.0 : f32, high = 2.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
      %2 = "onnx.RandomNormalLike"(%a) {mean = 1.0 : f32, scale = 0.5 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
      %3 = "onnx.RandomNormal"() {shape = [5 : i64]} : () -> tensor<5xf32>
      tsuc.yield %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>
    }
    %h = tsuc.segment "host1" target #tsuc.target<"host">(%p) : (tensor<2x3xf32>) -> tensor<2x3xf32> {
    ^bb0(%a: tensor<2x3xf32>):
      %0 = "onnx.Bernoulli"(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32>
      tsuc.yield %0 : tensor<2x3xf32>
    }
    func.return %b, %u, %n, %r, %h : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>, tensor<2x3xf32>
  }
}

// CHECK:      tsuc.segment "tsu0" target #tsuc.target<"tsu">
// CHECK:      tsu.sample "bernoulli"(%{{.*}}) samples 1 : i64 steps 1 : i64 beta 1.000000e+00 : f64 : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: tsu.sample "noise"(%{{.*}}) {{.*}} distribution "uniform" loc -2.000000e+00 : f64 scale 4.000000e+00 : f64
// CHECK-NEXT: tsu.sample "noise"(%{{.*}}) {{.*}} distribution "normal" loc 1.000000e+00 : f64 scale 5.000000e-01 : f64
// CHECK-NEXT: tsu.sample "noise"() {{.*}} distribution "normal" loc 0.000000e+00 : f64 scale 1.000000e+00 : f64 : () -> tensor<5xf32>
// CHECK:      tsuc.segment "host1" target #tsuc.target<"host">
// CHECK-NEXT: ^{{.*}}
// CHECK-NEXT: "onnx.Bernoulli"
