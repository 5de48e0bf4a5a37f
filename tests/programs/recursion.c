// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Recursion DEPTH (300, or -DDEPTH=N) deep, spinning at the bottom: the stack is recurse x DEPTH
// under main.
// Usage: recursion SECONDS
#include <stdlib.h>
#include <time.h>

#ifndef DEPTH
#define DEPTH 300
#endif
volatile unsigned long sink;

__attribute__((noinline)) void spin_at_bottom(double seconds) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (unsigned long i = 0; i < 100000; i++) sink += i;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
}

__attribute__((noinline)) void recurse(int n, double seconds) {
  if (n == 0) spin_at_bottom(seconds);
  else recurse(n - 1, seconds);
  sink++; // not a tail call
}

int main(int argc, char **argv) {
  recurse(DEPTH - 1, argc > 1 ? atof(argv[1]) : 10);
  return 0;
}
