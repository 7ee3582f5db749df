// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// clip needs min <= max.

builtin.module {
  func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>, %w: tensor<5x8xf32>) {
    %0 = hologram.clip %x {min = 2.0 : f32, max = 1.0 : f32} : tensor<4x8xf32>
    func.return
  }
}

// CHECK: hologram.clip needs min <= max
