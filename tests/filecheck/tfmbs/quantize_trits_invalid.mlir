// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// act_trits is between 1 and 10.

builtin.module {
  func.func @f(%x: tensor<2x64xf32>) {
    %q, %s = tfmbs.quantize %x {act_trits = 0 : i64} : tensor<2x64xf32> -> tensor<2x64xi16>, tensor<f64>
    func.return
  }
}

// CHECK: tfmbs.quantize act_trits must be between 1 and 10
