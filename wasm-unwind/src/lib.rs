// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! ELF facts, compact x86-64 unwind tables and native symbolization, built with gimli, object
//! and addr2line, for
//! `wasm32-unknown-unknown` (loaded by `src/unwind/_wasm.ts`) and natively (benchmarks,
//! tests).
//!
//! The core ([`elf`], [`facts`], [`rule`], [`table`]) does no I/O and cannot panic on any
//! input: every read is bounds-checked, arithmetic is checked, and every failure is an
//! [`Error`]. [`binding`] is the thin `extern "C"` ABI over linear memory.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::integer_arithmetic
)]

pub mod binding;
pub mod elf;
pub mod error;
pub mod facts;
pub mod go_rows;
pub mod gopclntab;
pub mod rule;
pub mod strip;
pub mod symbolize;
pub mod table;

#[cfg(test)]
mod tests;

pub use error::{CfiSection, Error, Limit, Result};
pub use facts::{elf_facts, BuildIdKind, Facts};
pub use gopclntab::{Frame, Func, Layout, PcValue, PcValues, Pclntab, Special};
pub use rule::{CfaKind, RbpKind, Rule, UnsupportedReason};
pub use strip::{strip_debuginfo, STRIP_COMPRESS, STRIP_KEEP_ALL};
pub use symbolize::{bundle_from_files, demangle, Symbolizer};
pub use table::{build_unwind_table, CfiInput, Stats, UnwindTable};
