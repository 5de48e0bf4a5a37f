// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The C half of go_cgo: a hot loop, then a call back into Go.
#include <stdint.h>

#include "_cgo_export.h"

__attribute__((noinline)) static uint64_t c_work(uint64_t n) {
	uint64_t x = n;
	for (int i = 0; i < 200000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

__attribute__((noinline)) uint64_t c_spin(uint64_t n) { return c_work(n) ^ goCallback(n); }
