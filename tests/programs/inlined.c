// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A function always inlined into its caller, for symbolization tests: with DWARF, samples in
// the loop name inlined_square (inlined) and outer_work, in one location. Usage: inlined SECONDS
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

static inline __attribute__((always_inline)) void inlined_square(unsigned long n) {
  for (unsigned long i = 0; i < n; i++) sink += i * i;
}

__attribute__((noinline)) void outer_work(void) {
  inlined_square(3000000);
  sink++;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    outer_work();
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  return 0;
}
