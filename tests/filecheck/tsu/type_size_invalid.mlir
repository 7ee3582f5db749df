// RUN: not tsuc opt %s 2>&1 | filecheck %s
// A problem has at least one spin.

builtin.module {
  %x = "test.op"() : () -> !tsu.problem<0>
}

// CHECK: !tsu.problem needs at least one spin, got 0
