// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A shared library built without frame pointers; pie_main calls it through the PLT.
volatile unsigned long lib_sink;

__attribute__((noinline)) static void lib_inner(void) {
  for (unsigned long i = 0; i < 200000; i++) lib_sink += i * 3;
}

__attribute__((noinline)) void lib_outer(void) {
  lib_inner();
  lib_sink++;
}

// A tiny function called in a tight loop, so samples also land in the PLT stub.
__attribute__((noinline)) unsigned long lib_tiny(unsigned long x) { return x * 7 + lib_sink; }
