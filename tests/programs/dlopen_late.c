// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Spins in its own code until a trigger file exists (so it is sampled and its tables are loaded
// first), then dlopen()s a library (libwork.so) and spins in it: the new mapping must be found
// and walked. Usage: dlopen_late LIBRARY TRIGGER SECONDS
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;

static double since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

__attribute__((noinline)) void spin_before(void) {
  for (unsigned long i = 0; i < 200000; i++) sink += i * 5;
}

__attribute__((noinline)) void before_dlopen(const char *trigger) {
  while (access(trigger, F_OK) != 0) spin_before();
  sink++;
}

__attribute__((noinline)) void after_dlopen(void (*work)(void), const struct timespec *start,
                                            double seconds) {
  while (since(start) < seconds) work();
  sink++;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  before_dlopen(argv[2]);
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  void (*work)(void) = (void (*)(void))dlsym(lib, "lib_outer");
  if (!work) return 1;
  after_dlopen(work, &start, atof(argv[3]));
  return 0;
}
