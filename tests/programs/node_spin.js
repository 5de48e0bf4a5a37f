// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A CPU-bound Node.js script: JIT code, V8's embedded builtins and the interpreter under
// node::Start. Usage: node node_spin.js SECONDS
"use strict";
function leaf(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) | 0;
  return x;
}
function middle(n) {
  return leaf(n) + [n].map((v) => v & 1)[0];
}
const end = Date.now() + Number(process.argv[2] || 10) * 1000;
let sum = 0;
while (Date.now() < end) sum += middle(100000);
process.exitCode = sum === 0.5 ? 1 : 0;
