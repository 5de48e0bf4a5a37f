// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Tiny pattern decoders for the few x86-64 instruction sequences whose operands say where a
// runtime keeps thread-local state. Each matches the forms compilers emit for one small
// function and returns undefined for anything else, so callers fall back to a known value.

function i32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) | 0;
}

/**
 * The offset in `_PyRuntime` of `autoTSSkey` (a Py_tss_t), from the code of
 * `PyGILState_GetThisThreadState`:
 * - `lea disp(%rax), %rdi|%rbx` after loading `&_PyRuntime` (shared libpython, through the GOT);
 * - `mov disp(%rip), %edi` loading the key itself (a static, non-PIC python: Debian's);
 * - `lea disp(%rip), %rdi` (static, PIC).
 *
 * @param code The function's first bytes.
 * @param funcAddr Its link-time address.
 * @param runtimeAddr Link-time address of `_PyRuntime`.
 * @returns The offset, or undefined when no known form is found.
 */
export function decodeAutoTssKeyOffset(
  code: Uint8Array,
  funcAddr: number,
  runtimeAddr: number,
): number | undefined {
  const plausible = (off: number) => off > 0 && off < 0x10000 ? off : undefined;
  for (let i = 0; i + 3 < code.length; i++) {
    const [a, b, c] = [code[i], code[i + 1], code[i + 2]];
    if (a === 0x48 && b === 0x8d && (c === 0xb8 || c === 0x98) && i + 7 <= code.length) {
      return plausible(i32(code, i + 3));
    }
    if (a === 0x48 && b === 0x8d && (c === 0x78 || c === 0x58) && i + 4 <= code.length) {
      return plausible(code[i + 3]);
    }
    if (a === 0x8b && b === 0x3d && i + 6 <= code.length) {
      const target = funcAddr + i + 6 + i32(code, i + 2);
      return plausible(target - 4 - runtimeAddr); // the key is the second field of Py_tss_t
    }
    if (a === 0x48 && b === 0x8d && c === 0x3d && i + 7 <= code.length) {
      return plausible(funcAddr + i + 7 + i32(code, i + 3) - runtimeAddr);
    }
  }
  return undefined;
}

/**
 * Where glibc's `pthread_getspecific` finds a key's value, from its code
 * (`add $imm, %rax; shl $4, %rax; add %fs:0x10, %rax; mov 0x8(%rax), ...`): struct pthread's
 * specific_1stblock[key].data is at fsbase + imm * 16 + 8 + 16 * key.
 *
 * @param code The function's first bytes.
 * @returns imm * 16 + 8, or undefined.
 */
export function decodeTsdOffset(code: Uint8Array): number | undefined {
  for (let i = 0; i + 8 <= code.length; i++) {
    if (
      code[i] === 0x48 && code[i + 1] === 0x83 && code[i + 2] === 0xc0 &&
      code[i + 4] === 0x48 && code[i + 5] === 0xc1 && code[i + 6] === 0xe0 && code[i + 7] === 0x04
    ) {
      return code[i + 3] * 16 + 8;
    }
  }
  return undefined;
}
