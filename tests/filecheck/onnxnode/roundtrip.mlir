// RUN: tsuc opt %s | tsuc opt | filecheck %s
// Whole ONNX nodes and values the core IR cannot type parse and print back: an If whose
// branches read the outer %x (a capture, named as the subgraphs know it) and a sequence.

builtin.module {
  func.func @main(%x: tensor<3xf32>, %c: tensor<i1>) -> (tensor<3xf32>, !onnxnode.value<"seq(tensor(float))", "IgQKAggB">) {
    %y = "onnxnode.node"(%c, %x) {op_type = "If", domain = "", proto = dense_resource<node_if> : tensor<123xui8>, input_slots = [0 : i64], output_slots = [0 : i64], captures = ["x"]} : (tensor<i1>, tensor<3xf32>) -> tensor<3xf32>
    %s = "onnxnode.node"(%x, %y) {op_type = "SequenceConstruct", domain = "", proto = dense_resource<node_seq> : tensor<21xui8>, input_slots = [0 : i64, 1 : i64], output_slots = [0 : i64], captures = []} : (tensor<3xf32>, tensor<3xf32>) -> !onnxnode.value<"seq(tensor(float))", "IgQKAggB">
    func.return %y, %s : tensor<3xf32>, !onnxnode.value<"seq(tensor(float))", "IgQKAggB">
  }
}

// CHECK:      %{{.*}} = "onnxnode.node"(%{{.*}}, %{{.*}}) {op_type = "If", domain = "", proto = dense_resource<node_if> : tensor<123xui8>, input_slots = [0 : i64], output_slots = [0 : i64], captures = ["x"]}
// CHECK-NEXT: %{{.*}} = "onnxnode.node"(%{{.*}}, %{{.*}}) {op_type = "SequenceConstruct"{{.*}}} : (tensor<3xf32>, tensor<3xf32>) -> !onnxnode.value<"seq(tensor(float))", "IgQKAggB">
