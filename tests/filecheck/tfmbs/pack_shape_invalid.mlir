// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// pack keeps the shape of the plane it packs.

builtin.module {
  func.func @f(%t: tensor<64x10xi8>) {
    %p = tfmbs.pack %t : tensor<64x10xi8> -> !tfmbs.pt5<10x64, mod3>
    func.return
  }
}

// CHECK: tfmbs.pack result shape must equal its operand's
