// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
// deno-lint-ignore-file -- a Node.js program, not part of the agent
// Hot JavaScript functions for the JIT e2e test: runs for argv[2] seconds.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function hotLoop() {
  let s = 0;
  for (let i = 0; i < 3e6; i++) s += Math.sqrt(i) % 3;
  return s;
}

const end = Date.now() + Number(process.argv[2]) * 1000;
let x = 0;
while (Date.now() < end) {
  x += fib(22);
  x += hotLoop();
}
console.log(x);
