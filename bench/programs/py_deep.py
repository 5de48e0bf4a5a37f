# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
# A CPU-bound Python program under a deep Python stack for bench/interp_overhead.ts:
# <module> -> argv[1] recursive calls -> a leaf's loop, for argv[2] seconds.
import sys
import time


def leaf(end):
    total = 0
    while time.time() < end:
        for i in range(10000):
            total += i % 7
    return total


def down(n, end):
    if n == 0:
        return leaf(end)
    return down(n - 1, end)


down(int(sys.argv[1]), time.time() + float(sys.argv[2]))
