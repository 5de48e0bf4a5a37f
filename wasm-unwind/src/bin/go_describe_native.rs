// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Native front end of `gopclntab::describe`: `go_describe_native FILE --funcs` or
//! `go_describe_native FILE PC...` (hex PCs), for checking the reader by hand.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.first() {
        Some(p) => p,
        None => {
            eprintln!("usage: go_describe_native FILE (--funcs | PC...)");
            std::process::exit(2);
        }
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Cannot read {}: {}", path, e);
            std::process::exit(1);
        }
    };
    let funcs = args.iter().any(|a| a == "--funcs");
    let pcs: Vec<u64> = args
        .iter()
        .skip(1)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    let mode = if funcs { wasm_unwind::gopclntab::DESCRIBE_FUNCS } else { 0 };
    match wasm_unwind::gopclntab::describe(&data, &pcs, mode) {
        Ok(out) => print!("{}", String::from_utf8_lossy(&out)),
        Err(e) => {
            eprintln!("{}", e);
            std::process::exit(1);
        }
    }
}
