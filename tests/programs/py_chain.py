# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
# A known Python chain for the interpreter e2e test: module function -> class methods -> a leaf
# with a hot loop, in the main thread and in a worker thread, for argv[1] seconds; with argv[2]
# "exit", the process then exits at once from the main thread's chain (no interpreter shutdown).
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
    worker = threading.Thread(target=chain, args=(seconds,), name="worker")
    worker.start()
    chain(seconds)
    if sys.argv[2:] == ["exit"]:
        os._exit(0)
    worker.join()
