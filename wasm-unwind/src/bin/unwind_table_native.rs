// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Native build of the same table builder, for apples-to-apples timing against the WASM
//! module: `unwind_table_native [--repeat N] [--json] FILE...`. It times the same call the ABI
//! makes (`build_unwind_table_bytes`), after the file is read.

use std::time::Instant;

fn main() {
    let mut repeat = 5usize;
    let mut json = false;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repeat" => repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(repeat),
            "--json" => json = true,
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("usage: unwind_table_native [--repeat N] [--json] FILE...");
        std::process::exit(2);
    }
    let mut failed = false;
    for path in files {
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("Cannot read {}: {}", path, e);
                failed = true;
                continue;
            }
        };
        let mut best = f64::INFINITY;
        let mut outcome = None;
        for _ in 0..repeat.max(1) {
            let start = Instant::now();
            let result = wasm_unwind::table::build_unwind_table_bytes(&data).map(|bytes| {
                let word = |at: usize| {
                    bytes
                        .get(at..at + 4)
                        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                };
                (word(12) as usize, word(8) as usize, bytes.len())
            });
            let ms = start.elapsed().as_secs_f64() * 1e3;
            best = best.min(ms);
            outcome = Some(result);
        }
        match outcome {
            Some(Ok((rows, rules, bytes))) => {
                if json {
                    println!(
                        "{{\"file\":{:?},\"rows\":{},\"rules\":{},\"bytes\":{},\"ms\":{:.3}}}",
                        path, rows, rules, bytes, best
                    );
                } else {
                    println!(
                        "{}: {} rows, {} rules, {} bytes, {:.3} ms (best of {})",
                        path, rows, rules, bytes, best, repeat
                    );
                }
            }
            Some(Err(e)) => {
                if json {
                    println!(
                        "{{\"file\":{:?},\"error\":{:?},\"code\":{},\"ms\":{:.3}}}",
                        path,
                        e.to_string(),
                        e.code(),
                        best
                    );
                } else {
                    println!("{}: error {}: {} ({:.3} ms)", path, e.code(), e, best);
                }
            }
            None => {}
        }
    }
    if failed {
        std::process::exit(1);
    }
}
