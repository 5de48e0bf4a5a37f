// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
// Hot Java methods for the JIT e2e test: runs for args[0] seconds.
public class JitHot {
    static double hotLoop(int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.sqrt(i) % 3;
        return s;
    }

    static long fib(int n) {
        return n < 2 ? n : fib(n - 1) + fib(n - 2);
    }

    public static void main(String[] args) {
        long end = System.currentTimeMillis() + Long.parseLong(args[0]) * 1000;
        double x = 0;
        while (System.currentTimeMillis() < end) {
            x += hotLoop(1_000_000);
            x += fib(22);
        }
        System.out.println(x);
    }
}
