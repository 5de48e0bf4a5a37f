// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A CPU-bound Go program for the unwinding tests: goroutines spin under a known chain
// (worker -> outer -> middle -> leaf, where leaf is frameless), and another goroutine allocates
// so the garbage collector runs (gcBgMarkWorker, systemstack switches, assists).
// Usage: go_chain SECONDS
package main

import (
	"os"
	"runtime"
	"strconv"
	"time"
)

var sink []byte
var total uint64

//go:noinline
func leaf(n uint64) uint64 {
	// No calls and no locals: the compiler gives it no frame (and no frame pointer).
	x := n
	for i := uint64(0); i < 4096; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

//go:noinline
func middle(n uint64) uint64 {
	var acc uint64
	for i := uint64(0); i < 64; i++ {
		acc += leaf(n + i)
	}
	return acc
}

//go:noinline
func outer(n uint64) uint64 {
	var acc uint64
	for i := uint64(0); i < 16; i++ {
		acc ^= middle(n + i)
	}
	return acc
}

//go:noinline
func worker(done <-chan struct{}, out chan<- uint64) {
	var acc uint64
	for {
		select {
		case <-done:
			out <- acc
			return
		default:
		}
		acc += outer(acc)
	}
}

//go:noinline
func allocator(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		for i := 0; i < 64; i++ {
			sink = make([]byte, 64<<10)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func main() {
	seconds := 10
	if len(os.Args) > 1 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil {
			seconds = n
		}
	}
	done := make(chan struct{})
	out := make(chan uint64)
	workers := runtime.NumCPU()
	for i := 0; i < workers; i++ {
		go worker(done, out)
	}
	go allocator(done)
	time.Sleep(time.Duration(seconds) * time.Second)
	close(done)
	for i := 0; i < workers; i++ {
		total += <-out
	}
}
