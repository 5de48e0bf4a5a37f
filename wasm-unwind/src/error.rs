// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! The one error type of the crate.

use core::fmt;

/// Which call-frame-information section an error or an FDE comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CfiSection {
    /// `.eh_frame` (GCC/LLVM runtime unwind information).
    EhFrame,
    /// `.debug_frame` (DWARF debug information).
    DebugFrame,
}

impl CfiSection {
    /// The section name as it appears in the ELF file.
    pub fn name(self) -> &'static str {
        match self {
            CfiSection::EhFrame => ".eh_frame",
            CfiSection::DebugFrame => ".debug_frame",
        }
    }
}

/// A work limit that bounds the cost of one call on hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// More rows than [`crate::table::MAX_ROWS`] after deduplication.
    Rows,
    /// More distinct rules than [`crate::table::MAX_RULES`] (the packed row holds a u16 index).
    Rules,
    /// More call frame instruction bytes evaluated than [`crate::table::MAX_INSTRUCTION_BYTES`]
    /// (CIE initial instructions count once per FDE).
    InstructionBytes,
    /// More FDEs than [`crate::table::MAX_FDES`].
    Fdes,
}

impl Limit {
    fn describe(self) -> &'static str {
        match self {
            Limit::Rows => "too many unwind rows",
            Limit::Rules => "too many distinct unwind rules",
            Limit::InstructionBytes => "too many call frame instruction bytes to evaluate",
            Limit::Fdes => "too many FDEs",
        }
    }
}

/// Everything that can go wrong. Input never causes a panic: every failure is one of these.
///
/// The numeric [`Error::code`] is the ABI's `last_error_code()`; codes are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A pointer/length pair passed across the ABI lies outside linear memory, or a result
    /// was requested while none exists.
    InvalidArgument,
    /// The input is not a well-formed ELF file; names the part that failed to parse.
    InvalidElf(&'static str),
    /// Unwind tables are built for x86-64 little-endian ELF64 only; holds `e_machine`.
    UnsupportedArchitecture(u16),
    /// Neither `.eh_frame` nor `.debug_frame` holds an FDE.
    NoUnwindInfo,
    /// A CFI section is corrupt: the section, the offset of the entry being read, and gimli's
    /// error.
    CorruptCfi {
        /// The section being read.
        section: CfiSection,
        /// Offset within the section of the entry that failed.
        offset: u64,
        /// The reason gimli gave.
        error: gimli::Error,
    },
    /// A work limit was exceeded (hostile or unusually large input).
    LimitExceeded(Limit),
    /// An allocation failed (WebAssembly memory could not grow).
    OutOfMemory,
    /// The file's `.gopclntab` is corrupt or of an unsupported kind; names the part.
    InvalidGoPclntab(&'static str),
    /// A symbol bundle holds neither a function symbol nor DWARF (nothing to name frames
    /// with).
    NoSymbols,
    /// A symbolizer handle that is not open.
    BadHandle,
}

impl Error {
    /// Stable numeric code for the ABI (0 means success and is never an error code).
    pub fn code(&self) -> u32 {
        match self {
            Error::InvalidArgument => 1,
            Error::InvalidElf(_) => 2,
            Error::UnsupportedArchitecture(_) => 3,
            Error::NoUnwindInfo => 4,
            Error::CorruptCfi { .. } => 5,
            Error::LimitExceeded(_) => 6,
            Error::OutOfMemory => 7,
            Error::InvalidGoPclntab(_) => 8,
            Error::NoSymbols => 9,
            Error::BadHandle => 10,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument => write!(f, "invalid argument: pointer or length out of range"),
            Error::InvalidElf(what) => write!(f, "invalid ELF file: cannot read {}", what),
            Error::UnsupportedArchitecture(machine) => {
                write!(f, "unsupported architecture: e_machine {} (only x86-64)", machine)
            }
            Error::NoUnwindInfo => {
                write!(f, "no unwind information: no FDE in .eh_frame or .debug_frame")
            }
            Error::CorruptCfi { section, offset, error } => write!(
                f,
                "corrupt {} at offset {:#x}: {}",
                section.name(),
                offset,
                error.description()
            ),
            Error::LimitExceeded(limit) => write!(f, "limit exceeded: {}", limit.describe()),
            Error::OutOfMemory => write!(f, "out of memory"),
            Error::InvalidGoPclntab(what) => write!(f, "invalid .gopclntab: cannot read {}", what),
            Error::NoSymbols => write!(f, "no symbols: no function symbol and no DWARF"),
            Error::BadHandle => write!(f, "invalid argument: no open symbolizer with this handle"),
        }
    }
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;
