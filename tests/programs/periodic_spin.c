// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Spins SPIN_MS every PERIOD_MS for SECONDS: one of many mostly idle processes that are still
// sampled now and then (the records benchmark runs 500 of them).
// Usage: periodic_spin SPIN_MS PERIOD_MS SECONDS
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) void periodic_work(void) {
  for (int i = 0; i < 10000; i++) sink += i;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  double spin = atof(argv[1]), period = atof(argv[2]), end = now_ms() + atof(argv[3]) * 1e3;
  // Start at a random phase so that the processes do not all spin at once.
  srand((unsigned)getpid());
  usleep((useconds_t)(rand() % (int)period) * 1000);
  while (now_ms() < end) {
    double t = now_ms();
    while (now_ms() - t < spin) periodic_work();
    usleep((useconds_t)((period - spin) * 1000));
  }
  return 0;
}
