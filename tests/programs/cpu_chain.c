// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// CPU-bound test program with a known call chain: main -> chain_a -> chain_b -> chain_c, where
// chain_c spins. Built with frame pointers and no inlining so every frame is walkable.
// Usage: cpu_chain SECONDS
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void chain_c(void) {
  for (unsigned long i = 0; i < 2000000; i++) sink += i * i;
}
__attribute__((noinline)) void chain_b(void) { chain_c(); sink++; }
__attribute__((noinline)) void chain_a(void) { chain_b(); sink++; }

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    chain_a();
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  return 0;
}
