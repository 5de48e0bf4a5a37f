// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Syscall-heavy test program: reads /dev/zero in large chunks so nearly all CPU time is in the
// kernel, in read_zero under the syscall entry. Usage: syscall_heavy SECONDS
//
// The chunk is 256 KiB, not a page: with 4 KiB reads each read costs about as much in the syscall
// entry and exit as in read_zero, and perf -g on this kernel (cpu-clock, as the agent samples) put
// only 0.44-0.51 of the samples in kernel stacks with a read frame: 0.23 in user space between
// reads and 0.28 in do_syscall_64 itself, at the instruction after its `sti` (a tick that came
// while the entry ran with interrupts off is taken there, before the read is dispatched). With
// 256 KiB reads perf puts 0.985 of the samples under read_zero, so the e2e test measures the
// agent's kernel stacks and not how this program splits its time.
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)

static char buf[READ_SIZE];

__attribute__((noinline)) void read_zero_loop(int fd) {
  for (int i = 0; i < 1000; i++) {
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
