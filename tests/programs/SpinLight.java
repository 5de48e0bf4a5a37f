// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A CPU-bound Java program whose hot methods the JIT compiles. Usage: java SpinLight SECONDS
// Its compiled leaf needs few registers and leaves rbp alone, so even without
// -XX:+PreserveFramePointer the frame-pointer chain through it stays intact (by luck: compare
// Spin, whose leaf uses rbp for data).
public class SpinLight {
  static long leaf(long n) {
    long x = n;
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005L + 1442695040888963407L;
    return x;
  }

  static long middle(long n) {
    return leaf(n) ^ (n >>> 3);
  }

  public static void main(String[] args) {
    long end = System.currentTimeMillis() + Long.parseLong(args.length > 0 ? args[0] : "10") * 1000;
    long acc = 0;
    while (System.currentTimeMillis() < end) acc += middle(acc);
    System.exit(acc == 42 ? 1 : 0);
  }
}
