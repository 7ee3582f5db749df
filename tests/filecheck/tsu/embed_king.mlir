// RUN: tsuc opt %s -p tsu-embed,tsu-quantize,tsu-colour | filecheck %s
// A 5-spin complete graph does not fit a king's graph one p-bit per spin: minorminer finds
// chains; chain couplings are +chain_strength and the colouring is of the physical graph.

builtin.module {
  func.func @main() -> (tensor<?x5xi8>, tensor<?xf64>, tensor<5xi8>, tensor<f64>, tensor<f64>) {
    %r0, %r1, %r2, %r3, %r4 = tsuc.segment "ising" target #tsuc.target<"tsu", {topology = "king", n_pbits = 16 : i64}>() : () -> (tensor<?x5xi8>, tensor<?xf64>, tensor<5xi8>, tensor<f64>, tensor<f64>) {
      %p = tsu.problem couplings dense<[[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]> : tensor<10x2xi64> weights dense<-1.0> : tensor<10xf64> fields dense<0.0> : tensor<5xf64> offset 0.0 : f64 maxcut : !tsu.problem<5>
      %s:5 = tsu.sample "ising" (%p) samples 2 : i64 steps 10 : i64 beta 1.0 : f64 beta0 0.1 : f64 : (!tsu.problem<5>) -> (tensor<?x5xi8>, tensor<?xf64>, tensor<5xi8>, tensor<f64>, tensor<f64>)
      tsuc.yield %s#0, %s#1, %s#2, %s#3, %s#4 : tensor<?x5xi8>, tensor<?xf64>, tensor<5xi8>, tensor<f64>, tensor<f64>
    }
    func.return %r0, %r1, %r2, %r3, %r4 : tensor<?x5xi8>, tensor<?xf64>, tensor<5xi8>, tensor<f64>, tensor<f64>
  }
}

// CHECK:      %[[E:.*]] = tsu.embed %p topology "king" chain_strength {{.*}} chains dense<{{.*}}> : tensor<[[P:[0-9]+]]xi64>
// CHECK-SAME: {max_chain = {{[2-9]}} : i64} : !tsu.problem<5> -> !tsu.problem<[[P]]>
// CHECK:      tsu.quantize %[[E]]
// CHECK-SAME: !tsu.problem<[[P]]> -> !tsu.program<[[P]]>
// CHECK:      tsu.colour
// CHECK:      tsu.sample "ising"({{.*}}) {{.*}} : (!tsu.program<[[P]]>) -> (tensor<?x5xi8>
