// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Syscall-heavy test program: reads /dev/zero in small chunks so most CPU time is in the kernel,
// under the syscall entry. Usage: syscall_heavy SECONDS
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) void read_zero_loop(int fd) {
  char buf[4096];
  for (int i = 0; i < 10000; i++) {
    if (read(fd, buf, sizeof(buf)) < 0) exit(1);
  }
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  int fd = open("/dev/zero", O_RDONLY);
  if (fd < 0) return 1;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    read_zero_loop(fd);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  return 0;
}
