// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A busy loop interrupted by SIGALRM every 10 ms; the handler itself spins for 6 ms of that
// (timed, not counted: a fixed iteration count gave 25-45 % by CPU speed), so samples land in it: the stack must show the handler, the kernel's signal frame
// (__restore_rt), the interrupted function and main. Usage: signal_handler SECONDS
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

volatile unsigned long sink;

static double elapsed(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now); // async-signal-safe
  return (now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

__attribute__((noinline)) void handler_work(void) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (unsigned long i = 0; i < 100000; i++) sink += i;
  } while (elapsed(&start) < 0.006);
}

__attribute__((noinline)) void on_alarm(int sig) {
  (void)sig;
  handler_work();
  sink++; // not a tail call: on_alarm stays on the stack
}

__attribute__((noinline)) void interrupted_loop(double seconds) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (int i = 0; i < 100000; i++) sink++;
  } while (elapsed(&start) < seconds);
}

int main(int argc, char **argv) {
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 10000}, {0, 10000}};
  setitimer(ITIMER_REAL, &it, NULL);
  interrupted_loop(argc > 1 ? atof(argv[1]) : 10);
  return 0;
}
