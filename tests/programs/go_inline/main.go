// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Prints what the Go runtime says about its own call stacks, the golden answer for the
// .gopclntab reader: for each return PC of a few stacks through inlined functions, closures,
// methods and generics, one line per frame (innermost first): "pc<TAB>function<TAB>file<TAB>line".
package main

import (
	"fmt"
	"runtime"
)

var stacks [][]uintptr

//go:noinline
func record() {
	var buf [64]uintptr
	n := runtime.Callers(1, buf[:])
	stacks = append(stacks, append([]uintptr(nil), buf[:n]...))
}

func inner(x int) int {
	if x > 0 {
		record()
	}
	return x * 2
}

func middle(x int) int { return inner(x) + 1 }

func outer(x int) int { return middle(x) + middle(x+1) }

//go:noinline
func top(x int) int { return outer(x) }

type counter struct{ n int }

func (c *counter) bump() { c.n += inner(c.n + 1) }

func apply[T any](v T, f func(T)) { f(v) }

func main() {
	top(3)
	c := &counter{}
	c.bump()
	apply(5, func(v int) { _ = middle(v) })
	func() { record() }()
	for _, s := range stacks {
		for _, pc := range s {
			frames := runtime.CallersFrames([]uintptr{pc})
			for {
				f, more := frames.Next()
				fmt.Printf("%x\t%s\t%s\t%d\n", pc, f.Function, f.File, f.Line)
				if !more {
					break
				}
			}
		}
	}
}
