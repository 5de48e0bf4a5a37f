// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Debian's ruby (libruby-3.1): detection, the DTV path to each thread's ruby_current_ec (walked
// here as bpf/ruby.h does, from the thread's fs base), and the labels and current lines of its
// control frames against caller_locations.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { parseMaps } from "../../process/mod.ts";
import { Fields, ProcMemory } from "../memory.ts";
import { mapFilesOpener as files } from "../_test_util.ts";
import { detectRuby, type RubyProcess } from "./detect.ts";
import { RubyIseqReader, succIndexLookup } from "./iseq.ts";

const RUBY = "/usr/bin/ruby";

const SCRIPT = `
require 'fiddle'
SYSCALL = Fiddle::Function.new(Fiddle::Handle::DEFAULT['syscall'],
  [Fiddle::TYPE_LONG, Fiddle::TYPE_LONG, Fiddle::TYPE_VOIDP], Fiddle::TYPE_LONG)
def fsbase
  buf = Fiddle::Pointer.malloc(8)
  SYSCALL.call(158, 0x1003, buf)
  buf[0, 8].unpack1("Q")
end
def leaf(tag)
  locs = caller_locations(0).map { |l| "#{l.label}@#{l.lineno}" }.join("|")
  puts "#{tag}\t#{fsbase}\t#{locs}"; $stdout.flush
  sleep 1000
end
class Worker
  def run(tag)
    leaf(tag)
  end
end
def outer(tag)
  Worker.new.run(tag)
end
t = Thread.new { outer("thread") }
sleep 0.2
outer("main")
`;

const MAGIC_MASK = 0x7fff0001;
const MAGIC_CFUNC = 0x55550001;

/** The Ruby frames of a thread, from its fs base, the way bpf/ruby.h reads them. */
function walkLikeBpf(mem: ProcMemory, rb: RubyProcess, fsbase: number): [number, bigint][] {
  const i = rb.info;
  const o = rb.info.rb!;
  const ptr = (a: number) => new Fields(mem.read(a, 8)!).ptr(0);
  const dtv = ptr(fsbase + 8);
  const block = ptr(dtv + 16 * i.tlsModule);
  const ec = ptr(block + i.tlsOffset);
  let cfp = ptr(ec + o.ecCfp);
  const end = ptr(ec + o.ecVmStack) + ptr(ec + o.ecVmStackSize) * 8;
  const out: [number, bigint][] = [];
  for (; cfp < end; cfp += o.cfpSize) {
    const f = new Fields(mem.read(cfp, o.cfpSize)!);
    const pc = f.ptr(o.cfpPc);
    const iseq = f.ptr(o.cfpIseq);
    const flags = ptr(f.ptr(o.cfpEp));
    if ((flags & MAGIC_MASK) === MAGIC_CFUNC || !iseq || !pc) continue;
    out.push([iseq, BigInt(pc)]);
  }
  return out;
}

const haveRuby = (() => {
  try {
    return Deno.statSync(RUBY).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "detectRuby() and RubyIseqReader name every frame of Debian's ruby with its current line",
  ignore: !haveRuby,
  fn: async () => {
    const child = new Deno.Command(RUBY, { args: ["-e", SCRIPT], stdout: "piped" }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    try {
      while (text.split("\n").length < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`ruby exited early: ${text}`);
        text += new TextDecoder().decode(value);
      }
      const pid = child.pid;
      const maps = parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
      const mem = ProcMemory.open(pid);
      try {
        const rb = detectRuby(pid, maps, files, mem);
        if (!("info" in rb)) throw new Error(`not detected: ${JSON.stringify(rb)}`);
        ok(rb.version.startsWith("3.1."), rb.version);
        const iseqs = new RubyIseqReader(mem, rb.layout);
        for (const line of text.trim().split("\n")) {
          const [tag, fsbase, stack] = line.split("\t");
          const got: string[] = walkLikeBpf(mem, rb, Number(fsbase)).map(([a, pc]) => {
            const f = iseqs.frame(a, pc);
            return `${f?.name}@${f?.line}`;
          });
          // caller_locations ran on line 11; the leaf now sleeps on line 13.
          const want = stack.split("|").map((f) => f === "leaf@11" ? "leaf@13" : f);
          deepStrictEqual(got.slice(0, want.length), want, `${tag} stack`);
        }
      } finally {
        mem.close();
      }
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel().catch(() => {});
    }
  },
});

Deno.test("succIndexLookup() ranks positions in the immediate part and in blocks", () => {
  const t = new Uint8Array(48 + 80);
  const dv = new DataView(t.buffer);
  // Immediate part: position j of word 0 has rank j + 1.
  let w = 0n;
  for (let j = 0; j < 9; j++) w |= BigInt(j + 1) << BigInt(7 * j);
  dv.setBigUint64(0, w, true);
  equal(succIndexLookup(t, 0), 1);
  equal(succIndexLookup(t, 8), 9);
  // Block 0: rank 20, small block 1 rank 3, bits of small block 1: positions 64 and 66.
  dv.setUint32(48, 20, true);
  dv.setBigUint64(48 + 8, 3n, true);
  dv.setBigUint64(48 + 16 + 8, 0b101n, true);
  equal(succIndexLookup(t, 54 + 64), 24);
  equal(succIndexLookup(t, 54 + 65), 24);
  equal(succIndexLookup(t, 54 + 66), 25);
  equal(succIndexLookup(t, 54 + 600), -1);
});
