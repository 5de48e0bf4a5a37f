// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! The WebAssembly ABI: plain `extern "C"` functions over linear memory (no wasm-bindgen).
//!
//! ```text
//! abi_version() -> u32                  1
//! alloc(len: usize) -> *mut u8           len bytes for the caller to fill; 0 when len == 0 or
//!                                        memory cannot grow
//! dealloc(ptr: *mut u8, len: usize)      frees what alloc returned (same len); (0, 0) is a no-op
//! elf_facts(ptr, len) -> *const u8       input = the whole ELF file; result = UTF-8 JSON;
//!                                        0 on error
//! unwind_table(ptr, len) -> *const u8    input = the whole ELF file; result = the binary
//!                                        table (layout in README.md); 0 on error
//! strip_debuginfo(ptr, len, flags) -> *const u8
//!                                        input = the whole ELF64 LE file; result = the
//!                                        stripped file (flags bit 0: zlib-compress DWARF,
//!                                        bit 1: keep all contents, compress only);
//!                                        0 on error
//! go_describe(ptr, len, pcs_ptr, pcs_len, mode) -> *const u8
//!                                        input = the whole ELF file and pcs_len bytes of
//!                                        little-endian u64 PCs; result = the text report of
//!                                        crate::gopclntab::describe (mode 0 frames per PC,
//!                                        1 every function); 0 on error
//! result_len() -> usize                  length of the last result (0 after an error)
//! result_free()                          frees the last result now (else the next call does)
//! last_error_code() -> u32               0 = ok; else crate::Error::code()
//! error_message() -> *const u8           UTF-8 message of the last error
//! error_message_len() -> usize           its length (0 after success)
//! ```
//!
//! A result stays valid until the next `elf_facts`, `unwind_table`, `strip_debuginfo` or
//! `result_free` call; copy
//! it out first. The input is never freed or modified by the module: the caller may pass the
//! same input to both functions, then `dealloc` it. Calls are not reentrant (a WebAssembly
//! instance is single-threaded). Nothing here can trap on any input: a pointer/length pair
//! outside linear memory is rejected with error code 1 before it is read.
#![allow(unsafe_code)]

use std::alloc::Layout;
use std::cell::RefCell;

use crate::error::Error;

/// The ABI version; bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

struct State {
    result: Vec<u8>,
    error_code: u32,
    error_message: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        result: Vec::new(),
        error_code: 0,
        error_message: Vec::new(),
    });
}

/// Returns [`ABI_VERSION`].
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn abi_version() -> u32 {
    ABI_VERSION
}

/// Allocates `len` bytes (alignment 1) for the caller; returns 0 when `len` is 0 or memory is
/// exhausted.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return core::ptr::null_mut();
    }
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// Frees `len` bytes at `ptr` returned by [`alloc`] with the same `len`.
///
/// # Safety
/// `ptr` must come from `alloc(len)` and not have been freed; `(null, _)` is a no-op.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        std::alloc::dealloc(ptr, layout);
    }
}

/// Checks that `[ptr, ptr + len)` lies inside linear memory and returns it as a slice.
///
/// # Safety
/// On native targets the caller guarantees the range is readable; on wasm32 it is checked
/// against the memory size, and any in-bounds range is readable.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::InvalidArgument);
    }
    let end = (ptr as usize).checked_add(len).ok_or(Error::InvalidArgument)?;
    #[cfg(target_arch = "wasm32")]
    {
        let memory = core::arch::wasm32::memory_size(0).checked_mul(65536);
        if memory.map_or(true, |size| end > size) {
            return Err(Error::InvalidArgument);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = end;
    Ok(core::slice::from_raw_parts(ptr, len))
}

/// Stores a result or an error and returns the pointer to hand back (null on error).
fn finish(outcome: Result<Vec<u8>, Error>) -> *const u8 {
    STATE.with(|state| {
        let mut state = match state.try_borrow_mut() {
            Ok(state) => state,
            // Unreachable (no reentrancy), but never panic.
            Err(_) => return core::ptr::null(),
        };
        state.result = Vec::new();
        match outcome {
            Ok(bytes) => {
                state.error_code = 0;
                state.error_message = Vec::new();
                state.result = bytes;
                state.result.as_ptr()
            }
            Err(error) => {
                state.error_code = error.code();
                state.error_message = error.to_string().into_bytes();
                core::ptr::null()
            }
        }
    })
}

/// Reads the ELF facts of the file at `[ptr, ptr + len)`; returns the JSON result or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn elf_facts(ptr: *const u8, len: usize) -> *const u8 {
    let outcome =
        input(ptr, len).and_then(crate::facts::elf_facts).map(|f| f.to_json().into_bytes());
    finish(outcome)
}

/// Builds the unwind table of the file at `[ptr, ptr + len)`; returns the binary result or
/// null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn unwind_table(ptr: *const u8, len: usize) -> *const u8 {
    let outcome = input(ptr, len)
        .and_then(crate::table::build_unwind_table)
        .and_then(|table| table.to_bytes());
    finish(outcome)
}

/// Strips the ELF file at `[ptr, ptr + len)` for debuginfo upload (see [`crate::strip`]);
/// `flags` bit 0 compresses DWARF sections, bit 1 keeps every section's contents. Returns the new
/// file or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn strip_debuginfo(ptr: *const u8, len: usize, flags: u32) -> *const u8 {
    let outcome = input(ptr, len).and_then(|data| crate::strip::strip_debuginfo(data, flags));
    finish(outcome)
}

/// Describes the Go table of the file at `[ptr, ptr + len)`: the frames of each PC in
/// `[pcs_ptr, pcs_ptr + pcs_len)` (little-endian u64s), or every function (`mode` 1). Returns
/// the text result or null.
///
/// # Safety
/// See [`input`]: on native targets both ranges must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn go_describe(
    ptr: *const u8,
    len: usize,
    pcs_ptr: *const u8,
    pcs_len: usize,
    mode: u32,
) -> *const u8 {
    let outcome = input(ptr, len).and_then(|data| {
        let raw = input(pcs_ptr, pcs_len)?;
        let pcs: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect();
        crate::gopclntab::describe(data, &pcs, mode)
    });
    finish(outcome)
}

/// Length of the last result (0 after an error or `result_free`).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_len() -> usize {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.result.len()))
}

/// Frees the last result.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_free() {
    STATE.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.result = Vec::new();
        }
    })
}

/// Error code of the last call (0 = success).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn last_error_code() -> u32 {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.error_code))
}

/// Pointer to the UTF-8 message of the last error (valid until the next call).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn error_message() -> *const u8 {
    STATE.with(|s| s.try_borrow().map_or(core::ptr::null(), |s| s.error_message.as_ptr()))
}

/// Length of the message of the last error (0 after success).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn error_message_len() -> usize {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.error_message.len()))
}
