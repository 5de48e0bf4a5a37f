// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Calls the CFI-less assembly of asm_loop.S from C built without frame pointers, under a known
// chain: main -> c_outer -> c_inner -> asm_spin. Usage: asm_main SECONDS
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

uint64_t asm_spin(uint64_t n);
volatile uint64_t sink;

__attribute__((noinline)) uint64_t c_inner(uint64_t n) { return asm_spin(n) + 1; }
__attribute__((noinline)) uint64_t c_outer(uint64_t n) { return c_inner(n) ^ 3; }

int main(int argc, char **argv) {
  time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 10);
  while (time(NULL) < end) sink += c_outer(20000000);
  return 0;
}
