// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// Runs PROGRAM as a child with exactly the pid PID (clone3 with set_tid, which needs
// CAP_SYS_ADMIN), waits for it and exits with its status: the pid-reuse test runs two different
// programs under one pid, one after the other. Exit 17 (EEXIST) when the pid is taken.
// Usage: spawn_with_pid PID PROGRAM [ARGS...]
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: spawn_with_pid PID PROGRAM [ARGS...]\n");
    return 2;
  }
  pid_t want = (pid_t)atoi(argv[1]);
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.exit_signal = SIGCHLD;
  args.set_tid = (uint64_t)(uintptr_t)&want;
  args.set_tid_size = 1;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0) {
    int e = errno;
    fprintf(stderr, "clone3 with pid %d: %s\n", want, strerror(e));
    return e == EEXIST ? 17 : 1;
  }
  if (pid == 0) {
    execv(argv[2], argv + 2);
    perror("execv");
    _exit(127);
  }
  int status;
  if (waitpid((pid_t)pid, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
