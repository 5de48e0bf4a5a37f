// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Every CPython on the machine (pyenv 3.8–3.13, Debian's stripped python3): detection, the
// offsets BPF uses (walked here from the thread's TSD slot exactly as bpf/python.h does), and
// the names and current lines user space gives each frame, against what the interpreter itself
// reports (traceback.extract_stack).

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { parseMaps } from "../../process/mod.ts";
import { PyFrameMode, PyLastiKind } from "../bpf_types.ts";
import { Fields, ProcMemory } from "../memory.ts";
import { mapFilesOpener as files } from "../_test_util.ts";
import { PythonCodeReader, type SourceFrame } from "./code.ts";
import { detectPython, GLIBC_TSD_OFFSET, type PythonProcess } from "./detect.ts";
import { lnotabLine, locationTableLine, pep626Line } from "./line_table.ts";
import { installedPythons } from "../../../tests/_lib/pythons.ts";

// Prints the thread's fs base and PyThreadState, and the stack as Python sees it, then waits.
const SCRIPT = `
import ctypes, sys, traceback, threading
libc = ctypes.CDLL(None, use_errno=True)
def fsbase():
    v = ctypes.c_uint64(0)
    libc.syscall(158, 0x1003, ctypes.byref(v))  # arch_prctl(ARCH_GET_FS)
    return v.value
ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
def leaf(tag):
    st = traceback.extract_stack()
    print(tag, fsbase(), ctypes.pythonapi.PyThreadState_Get(), "|".join(
        (getattr(f, "name") + "@" + str(f.lineno)) for f in st), flush=True)
    ev.wait()
class Worker:
    def run(self, tag):
        return leaf(tag)
def outer(tag):
    return Worker().run(tag)
ev = threading.Event()
t = threading.Thread(target=outer, args=("thread",))
t.start()
import time; time.sleep(0.2)
outer("main")
`;

/** Walks Python frames from a thread state the way bpf/python.h does (all activations). */
function walkLikeBpf(mem: ProcMemory, py: PythonProcess, tstate: number): [number, bigint][] {
  const o = py.info.py!;
  let frame = new Fields(mem.read(tstate + o.tstateFrame, 8)!).ptr(0);
  if (o.cframeCurrent !== 0xffff && frame) {
    frame = new Fields(mem.read(frame + o.cframeCurrent, 8)!).ptr(0);
  }
  const out: [number, bigint][] = [];
  for (let n = 0; frame && n < 256; n++) {
    const f = new Fields(mem.read(frame, o.frameSize)!);
    const back = f.ptr(o.frameBack);
    if (o.mode === PyFrameMode.OWNER_CSTACK && f.bytes[o.frameEntry] === o.entryOwner) {
      frame = back;
      continue;
    }
    const code = f.ptr(o.frameCode);
    const lasti = o.lastiKind === PyLastiKind.INT
      ? f.u32(o.frameLasti)
      : (f.ptr(o.frameLasti) - code) >>> 0;
    const first = new Fields(mem.read(code + o.codeFirstlineno, 4)!).u32(0);
    out.push([code, (BigInt(first) << 32n) | BigInt(lasti)]);
    frame = back;
  }
  return out;
}

for (const { label, exe } of installedPythons()) {
  Deno.test(`detectPython() and PythonCodeReader name every frame of ${label} with its current line`, async () => {
    const child = new Deno.Command(exe, {
      args: ["-c", SCRIPT],
      stdout: "piped",
      stderr: "inherit",
    })
      .spawn();
    const reader = child.stdout.getReader();
    let text = "";
    try {
      while (text.split("\n").length < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${exe} exited early: ${text}`);
        text += new TextDecoder().decode(value);
      }
      const pid = child.pid;
      const maps = parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
      using mem = {
        m: ProcMemory.open(pid),
        [Symbol.dispose]() {
          this.m.close();
        },
      };
      const py = detectPython(pid, maps, files, mem.m);
      if (!("info" in py)) throw new Error(`not detected: ${JSON.stringify(py)}`);
      const version = await new Deno.Command(exe, {
        args: ["-c", "import sys;print('%d.%d.%d'%sys.version_info[:3])"],
      }).output();
      // Py_Version (3.11+) gives the micro version; before it the file name gives major.minor.
      const full = new TextDecoder().decode(version.stdout).trim();
      equal(py.version, Number(full.split(".")[1]) >= 11 ? full : full.replace(/\.\d+$/, ""));
      deepStrictEqual(py.notes, []);
      equal(py.info.tsdOffset, GLIBC_TSD_OFFSET);
      const key = new Fields(mem.m.read(py.info.tlsKeyAddr, 4)!).u32(0);
      const code = new PythonCodeReader(mem.m, py.layout);
      for (const line of text.trim().split("\n")) {
        const [tag, fsbase, tstate, stack] = line.split(" ");
        // The TSD formula BPF uses gives this thread's PyThreadState.
        const slot = new Fields(mem.m.read(Number(fsbase) + py.info.tsdOffset + 16 * key, 8)!).ptr(
          0,
        );
        equal(slot, Number(tstate), `${tag}: TSD slot of autoTSSkey`);
        const frames: (SourceFrame | undefined)[] = walkLikeBpf(mem.m, py, slot).map((
          [addr, data],
        ) => code.frame(addr, data));
        const got: string[] = frames.map((f) => `${f?.name.split(".").pop()}@${f?.line}`).reverse();
        // extract_stack ran on the leaf's line 10; the leaf now waits on line 13, in Event.wait.
        const want = stack.split("|").map((f) => f === "leaf@10" ? "leaf@13" : f);
        const leaf = got.indexOf("leaf@13");
        ok(leaf >= 0, `${tag}: no leaf@13 in ${got.join(" ")}`);
        deepStrictEqual(got.slice(leaf + 1 - want.length, leaf + 1), want, `${tag} stack`);
        equal(got[leaf + 1]?.split("@")[0], "wait", `${tag}: Event.wait above the leaf`);
        ok(frames.every((f) => f && f.file.length > 0));
      }
      const names = walkLikeBpf(mem.m, py, Number(text.split("\n")[1].split(" ")[2]))
        .map(([a, d]) => code.frame(a, d)?.name);
      if (Number(py.version.split(".")[1]) >= 11) ok(names.includes("Worker.run"), names.join());
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel().catch(() => {});
    }
  });
}

Deno.test("lnotabLine() follows increments up to the offset", () => {
  // 0..6 line 10, 6..10 line 12, 10.. line 11
  const t = new Uint8Array([6, 2, 4, 0xff]);
  equal(lnotabLine(t, 10, 0), 10);
  equal(lnotabLine(t, 10, 6), 12);
  equal(lnotabLine(t, 10, 12), 11);
});

Deno.test("pep626Line() skips empty ranges and reports no-line ranges", () => {
  const t = new Uint8Array([0, 1, 4, 1, 2, 0x80, 6, 0xfe]);
  equal(pep626Line(t, 5, 0), 7);
  equal(pep626Line(t, 5, 4), -1);
  equal(pep626Line(t, 5, 7), 5);
  equal(pep626Line(t, 5, -2), 5);
});

Deno.test("locationTableLine() decodes short, one-line, no-column and long entries", () => {
  const t = new Uint8Array([
    0x80 | (0 << 3) | 1,
    0x00, // 2 units, short form: same line (10)
    0x80 | (11 << 3) | 0,
    1,
    2, // 1 unit, one-line +1: 11
    0x80 | (13 << 3) | 0,
    4, // 1 unit, no columns, +2: 13
    0x80 | (14 << 3) | 1,
    3,
    0,
    0,
    0, // 2 units, long, -1: 12
    0x80 | (15 << 3) | 0, // 1 unit, no location
  ]);
  equal(locationTableLine(t, 10, 2), 10);
  equal(locationTableLine(t, 10, 4), 11);
  equal(locationTableLine(t, 10, 6), 13);
  equal(locationTableLine(t, 10, 10), 12);
  equal(locationTableLine(t, 10, 12), -1);
});
