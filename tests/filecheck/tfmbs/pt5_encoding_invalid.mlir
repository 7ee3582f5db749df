// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// PT-5 data names one of the two encodings, offset or mod3.

builtin.module {
  func.func @f(%t: tensor<64x10xi8>) {
    %p = tfmbs.pack %t : tensor<64x10xi8> -> !tfmbs.pt5<64x10, base3>
    func.return
  }
}

// CHECK: encoding must be one of offset, mod3
