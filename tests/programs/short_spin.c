// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Spins for MILLISECONDS (default 2) and exits: a short program for the exec storm.
// Usage: short_spin [MILLISECONDS]
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void short_work(void) {
  for (int i = 0; i < 10000; i++) sink += i;
}

int main(int argc, char **argv) {
  double ms = argc > 1 ? atof(argv[1]) : 2;
  struct timespec s, n;
  clock_gettime(CLOCK_MONOTONIC, &s);
  do {
    short_work();
    clock_gettime(CLOCK_MONOTONIC, &n);
  } while ((n.tv_sec - s.tv_sec) * 1e3 + (n.tv_nsec - s.tv_nsec) / 1e6 < ms);
  return 0;
}
