// RUN: tsuc opt %s --verify-diagnostics | filecheck %s
// The slots must account for every operand: here the If names one input and no capture,
// but has two operands.

builtin.module {
  func.func @main(%x: tensor<3xf32>, %c: tensor<i1>) -> tensor<3xf32> {
    %y = "onnxnode.node"(%c, %x) {op_type = "If", domain = "", proto = dense_resource<node_if> : tensor<123xui8>, input_slots = [0 : i64], output_slots = [0 : i64], captures = []} : (tensor<i1>, tensor<3xf32>) -> tensor<3xf32>
    func.return %y : tensor<3xf32>
  }
}

// CHECK: input_slots [0] and 0 capture(s) do not account for its 2 operand(s) in order
