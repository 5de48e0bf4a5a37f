// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0
//
// A Rust release binary (no frame pointers) with a known chain:
// main -> rust_outer -> rust_middle -> rust_leaf. Usage: rust_chain SECONDS

use std::time::{Duration, Instant};

/// Keeps the optimizer from folding a value away (std::hint::black_box needs Rust 1.66;
/// Debian's rustc is 1.63).
fn black_box(x: u64) -> u64 {
    let mut v = x;
    // SAFETY: a volatile read and write of a local variable.
    unsafe {
        std::ptr::write_volatile(&mut v, x);
        std::ptr::read_volatile(&v)
    }
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn rust_leaf(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(black_box(i).wrapping_mul(i));
    }
    acc
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn rust_middle(n: u64) -> u64 {
    black_box(rust_leaf(n)).wrapping_add(1)
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn rust_outer(n: u64) -> u64 {
    black_box(rust_middle(n)).wrapping_add(1)
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut total = 0u64;
    while Instant::now() < end {
        total = total.wrapping_add(rust_outer(2_000_000));
    }
    black_box(total);
}
