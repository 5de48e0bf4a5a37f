// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Starts PROGRAM (fork + exec) RATE times a second for SECONDS, reaping the children as they
// exit: the exec-storm soak of the process records. Prints how many it started.
// Usage: exec_storm RATE SECONDS PROGRAM [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: exec_storm RATE SECONDS PROGRAM [ARGS...]\n");
    return 2;
  }
  double rate = atof(argv[1]), seconds = atof(argv[2]);
  double start = now();
  long started = 0;
  while (now() - start < seconds) {
    double due = start + started / rate;
    double wait = due - now();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
    pid_t pid = fork();
    if (pid == 0) {
      execv(argv[3], argv + 3);
      _exit(127);
    }
    if (pid > 0) started++;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
  while (wait(NULL) > 0) {
  }
  printf("%ld\n", started);
  return 0;
}
