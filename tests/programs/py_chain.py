# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
# A known Python chain for the interpreter e2e test: module function -> class methods -> a leaf
# with a hot loop, in the main thread and in a worker thread, for argv[1] seconds. With argv[2]
# "exit", SIGUSR1 makes it exit at once from code it has been running (no interpreter shutdown).
import os
import sys
import threading
import time


def leaf(n):
    total = 0
    for i in range(n):  # LEAF_LOOP_FIRST
        total += i * i % 7  # LEAF_LOOP_LAST
    return total


class Work:
    def step(self, n):
        return leaf(n)

    def run(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            self.step(20000)


def chain(seconds):
    Work().run(seconds)


if __name__ == "__main__":
    seconds = float(sys.argv[1])
    exiting = sys.argv[2:] == ["exit"]
    if exiting:
        import signal

        # A C handler: it raises KeyboardInterrupt in the main thread's leaf, which unwinds to
        # <module> below, so no code object runs for the first time in the window of the exit.
        signal.signal(signal.SIGUSR1, signal.default_int_handler)
    worker = threading.Thread(target=chain, args=(seconds,), name="worker")
    worker.start()
    try:
        chain(seconds)
    except KeyboardInterrupt:
        os._exit(0)
    if exiting:
        os._exit(3)  # argv[1] seconds passed without SIGUSR1
    worker.join()
