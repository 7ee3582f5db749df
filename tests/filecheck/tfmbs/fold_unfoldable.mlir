// RUN: not tsuc opt %s -p tfmbs-lower 2>&1 | filecheck %s
// A Relu in a tfmbs segment that does not follow a fabric layer (hand-written IR: the
// partitioner never builds this) is refused in one sentence naming the node.

builtin.module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %y = tsuc.segment "tfmbs0" target #tsuc.target<"tfmbs", {}>(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32> {
    ^bb0(%a: tensor<2x3xf32>):
      %t = "onnx.Relu"(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("relu7")
      tsuc.yield %t : tensor<2x3xf32>
    }
    func.return %y : tensor<2x3xf32>
  }
}

// CHECK: error: node 'relu7' (Relu) is in a tfmbs segment but cannot be folded into a fabric layer: its input is not the single-use output of a fabric layer or of its residual Add
