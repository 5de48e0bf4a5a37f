// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A CPU-bound Java program whose hot methods the JIT compiles. Usage: java Spin SECONDS
// The leaf keeps sixteen values live across its loop, more than the registers C2 has without
// rbp: without -XX:+PreserveFramePointer the compiled leaf uses rbp for data, which breaks the
// frame-pointer chain there, as JIT code of real programs does.
public class Spin {
  static long leaf(long n) {
    long a = n, b = n + 1, c = n + 2, d = n + 3, e = n + 4, f = n + 5, g = n + 6, h = n + 7;
    long i = n + 8, j = n + 9, k = n + 10, l = n + 11, m = n + 12, o = n + 13, p = n + 14;
    long q = n + 15;
    for (int r = 0; r < 100000; r++) {
      a = a * 6364136223846793005L + b;
      b = b * 6364136223846793005L + c;
      c = c * 6364136223846793005L + d;
      d = d * 6364136223846793005L + e;
      e = e * 6364136223846793005L + f;
      f = f * 6364136223846793005L + g;
      g = g * 6364136223846793005L + h;
      h = h * 6364136223846793005L + i;
      i = i * 6364136223846793005L + j;
      j = j * 6364136223846793005L + k;
      k = k * 6364136223846793005L + l;
      l = l * 6364136223846793005L + m;
      m = m * 6364136223846793005L + o;
      o = o * 6364136223846793005L + p;
      p = p * 6364136223846793005L + q;
      q = q * 6364136223846793005L + a;
    }
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j ^ k ^ l ^ m ^ o ^ p ^ q;
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
