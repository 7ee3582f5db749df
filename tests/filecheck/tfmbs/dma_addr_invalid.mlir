// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// dma_load addresses are word-aligned Bank A addresses.

builtin.module {
  func.func @f(%t: tensor<64x10xi8>) {
    %p = tfmbs.pack %t : tensor<64x10xi8> -> !tfmbs.pt5<64x10, mod3>
    %w = tfmbs.dma_load %p {bank = "A", addr = 4098 : i64} : !tfmbs.pt5<64x10, mod3> -> tensor<64x10xi8>
    func.return
  }
}

// CHECK: tfmbs.dma_load addr must be a word-aligned Bank A address
