// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// im2col's result is [B*OH*OW, C*KH*KW].

builtin.module {
  func.func @f(%q: tensor<1x3x8x8xi16>) {
    %c = tfmbs.im2col %q {kernel_shape = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 0 : i64, groups = 1 : i64} : tensor<1x3x8x8xi16> -> tensor<64x27xi16>
    func.return
  }
}

// CHECK: tfmbs.im2col result must be 36x27
