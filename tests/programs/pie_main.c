// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A PIE executable calling lib_outer() and lib_tiny() of libwork.so through the PLT.
// Usage: pie_main SECONDS
#include <stdlib.h>
#include <time.h>

void lib_outer(void);
unsigned long lib_tiny(unsigned long x);
volatile unsigned long main_sink;

__attribute__((noinline)) void call_library(void) {
  lib_outer();
  for (unsigned long i = 0; i < 20000; i++) main_sink += lib_tiny(i);
  main_sink++;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    call_library();
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  return 0;
}
