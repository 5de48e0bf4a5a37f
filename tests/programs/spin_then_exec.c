// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Spins in before_exec() for SECONDS, then execs the rest of its arguments in the same process
// (same pid): the exec test checks that each image's samples keep their own chain and mappings.
// Usage: spin_then_exec SECONDS PROGRAM [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

__attribute__((noinline)) void before_exec_leaf(void) {
  for (unsigned long i = 0; i < 2000000; i++) sink += i * i;
}
__attribute__((noinline)) void before_exec(double seconds) {
  double start = now();
  while (now() - start < seconds) before_exec_leaf();
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: spin_then_exec SECONDS PROGRAM [ARGS...]\n");
    return 2;
  }
  before_exec(atof(argv[1]));
  execv(argv[2], argv + 2);
  perror("execv");
  return 1;
}
