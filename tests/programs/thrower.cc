// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A C++ program that throws and catches in a loop, so many samples land in the unwinder
// (libgcc_s, libstdc++) under throw_one <- catch_loop <- main. Usage: thrower SECONDS
#include <chrono>
#include <cstdlib>
#include <stdexcept>

volatile unsigned long sink;

__attribute__((noinline)) void throw_one(int i) {
  if (i >= 0) throw std::runtime_error("boom");
}

__attribute__((noinline)) void catch_loop() {
  for (int i = 0; i < 1000; i++) {
    try {
      throw_one(i);
    } catch (const std::exception &e) {
      sink += e.what()[0];
    }
  }
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    catch_loop();
  }
  return 0;
}
