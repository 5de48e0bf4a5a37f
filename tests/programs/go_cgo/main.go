// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A cgo program for the unwinding tests: Go calls C (c_spin, hot), and C calls back into Go
// (goCallback) which spins too. Usage: go_cgo SECONDS
package main

/*
#include <stdint.h>
uint64_t c_spin(uint64_t n);
*/
import "C"

import (
	"os"
	"strconv"
	"time"
)

var total uint64

//export goCallback
func goCallback(n C.uint64_t) C.uint64_t { return C.uint64_t(goWork(uint64(n))) }

//go:noinline
func goWork(n uint64) uint64 {
	x := n
	for i := 0; i < 200000; i++ {
		x = x*2862933555777941757 + 3037000493
	}
	return x
}

//go:noinline
func goSpin(n uint64) uint64 { return uint64(C.c_spin(C.uint64_t(n))) }

func main() {
	seconds := 10
	if len(os.Args) > 1 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil {
			seconds = n
		}
	}
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	for time.Now().Before(end) {
		total += goSpin(total)
	}
}
