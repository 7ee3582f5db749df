// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// combine takes act_trits*w_planes accumulators plus scale, weight scales and bias.

builtin.module {
  func.func @f(%a: tensor<2x10xi32>, %s: tensor<f64>, %ws: tensor<1x10xf32>, %b: tensor<10xf32>) {
    %y = tfmbs.combine %a, %s, %ws, %b {act_trits = 2 : i64, w_planes = 1 : i64, layout = "rows"} : (tensor<2x10xi32>, tensor<f64>, tensor<1x10xf32>, tensor<10xf32>) -> tensor<2x10xf32>
    func.return
  }
}

// CHECK: tfmbs.combine needs act_trits*w_planes = 2 accumulators
