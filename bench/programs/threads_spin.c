// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Benchmark load for the labels benchmark: 20 threads (the main thread and 19 others), each of
// which sleeps for about SLEEP_MS milliseconds (jittered), then spins for SPIN_US microseconds,
// forever. Many copies give the profiler many processes and threads with samples, at a CPU load
// set by the two numbers.
// Usage: threads_spin [SLEEP_MS [SPIN_US]]   (defaults 1000 and 100)
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define THREADS 20

static long sleep_ms = 1000, spin_us = 100;
static volatile unsigned long sink;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *run(void *arg) {
  unsigned seed = (unsigned)(size_t)arg ^ (unsigned)getpid();
  for (;;) {
    long ms = sleep_ms / 2 + rand_r(&seed) % (sleep_ms + 1);
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
    double end = now_us() + spin_us;
    while (now_us() < end) sink++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) sleep_ms = atol(argv[1]);
  if (argc > 2) spin_us = atol(argv[2]);
  pthread_t t;
  for (long i = 1; i < THREADS; i++) pthread_create(&t, NULL, run, (void *)i);
  run((void *)0);
  return 0;
}
