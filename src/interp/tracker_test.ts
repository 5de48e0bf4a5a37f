// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok } from "node:assert/strict";
import { mapFilesOpener as files } from "./_test_util.ts";
import { INTERP_INFO, InterpKind } from "./bpf_types.ts";
import { InterpreterTracker, type InterpreterTrackerOptions } from "./tracker.ts";
import { FakeInterpMaps } from "../bpf/mod.ts";
import { installedPythons } from "../../tests/_lib/pythons.ts";
import { parseMaps } from "../process/mod.ts";

const python = installedPythons().find((p) => p.label.includes("3.12"));
// Says where one of its code objects is (CPython's id() is the address) and its first line.
const SLEEPER = "import time\ndef f():\n  pass\n" +
  "print('ready', id(f.__code__), f.__code__.co_firstlineno, flush=True)\ntime.sleep(60)";

/** The program's first line: it says it is ready in one (written in pieces when unbuffered). */
async function readyLine(child: Deno.ChildProcess, what: string): Promise<string> {
  const reader = child.stdout.getReader();
  let ready = "";
  while (!ready.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${what} exited before it was ready: ${ready}`);
    ready += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return ready;
}

/**
 * Runs `fn` with a tracker attached to in-memory maps and a sleeping Python child that has said
 * it is ready, then kills the child; returns the tracker (to close) and maps once it is gone.
 */
async function withSleepingPython(
  opts: Pick<InterpreterTrackerOptions, "python" | "ruby">,
  fn: (pid: number, tracker: InterpreterTracker, map: FakeInterpMaps, ready: string) => void,
): Promise<{ pid: number; tracker: InterpreterTracker; map: FakeInterpMaps }> {
  const child = new Deno.Command(python!.exe, {
    args: ["-c", SLEEPER],
    stdout: "piped",
    stdin: "null",
  }).spawn();
  const map = new FakeInterpMaps();
  const tracker = new InterpreterTracker({ ...opts, files });
  tracker.attach(map);
  try {
    const ready = await readyLine(child, "python");
    fn(child.pid, tracker, map, ready);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
  return { pid: child.pid, tracker, map };
}

Deno.test({
  name: "InterpreterTracker writes a Python process's entry, names its frames, forgets it on exit",
  ignore: !python,
  async fn() {
    const { pid, tracker, map } = await withSleepingPython(
      { python: true, ruby: true },
      (pid, tracker, map) => {
        tracker.examine(pid);
        const entry = map.processes.get(pid);
        ok(entry, "no entry written");
        equal(new DataView(entry.buffer).getUint32(INTERP_INFO.kind, true), InterpKind.PYTHON);
        equal(tracker.walked, 1);
        // Examining again with unchanged mappings changes nothing.
        map.processes.clear();
        tracker.examine(pid);
        equal(map.processes.size, 0);
        // A frame that is not a code object is shown as unknown, not misnamed.
        const sym = tracker.symbolizer(pid);
        equal(sym.frame({ kind: InterpKind.PYTHON, addr: 0x1000, data: 0n }), undefined);
        equal(sym.unknown(InterpKind.PYTHON), "[python]");
      },
    );
    map.processes.set(pid, new Uint8Array(1));
    tracker.windowEnded(new Set());
    equal(map.processes.has(pid), false, "exited process still in the map");
    equal(tracker.walked, 0);
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker with Python off leaves a Python process alone",
  ignore: !python,
  async fn() {
    const { tracker } = await withSleepingPython({ python: false, ruby: true }, (pid, t, map) => {
      t.examine(pid);
      equal(map.processes.size, 0);
    });
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker stops writing once the sampler's maps are closed, without a syscall",
  ignore: !python,
  async fn() {
    const { tracker } = await withSleepingPython({ python: true, ruby: true }, (pid, t, map) => {
      t.examine(pid);
      equal(map.processes.size, 1);
      map.close();
      // A process that exits after the maps closed: its entry is not deleted (no call at all).
      t.forget(pid);
      equal(map.refusedAfterClose, 0);
      // Nor is a process examined after it.
      t.examine(pid);
      equal(map.refusedAfterClose, 0);
      equal(t.walked, 0);
    });
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker names an ended image's frames until its record is released",
  ignore: !python,
  async fn() {
    let frame = { kind: InterpKind.PYTHON, addr: 0, data: 0n };
    const { pid, tracker, map } = await withSleepingPython(
      { python: true, ruby: true },
      (pid, t, _map, ready) => {
        const [, addr, first] = ready.trim().split(" ").map(Number);
        frame = { kind: InterpKind.PYTHON, addr, data: BigInt(first) << 32n };
        t.examine(pid, 7);
        equal(t.symbolizer(pid, 7).frame(frame)?.name, "f");
      },
    );
    // The image ended (its memory is gone): its BPF entry goes, its decoded objects stay.
    tracker.forget(pid, 7);
    equal(map.processes.has(pid), false);
    equal(tracker.walked, 0);
    equal(tracker.symbolizer(pid, 7).frame(frame)?.name, "f");
    equal(tracker.symbolizer(pid, 8).frame(frame), undefined, "another image of the pid");
    tracker.released(pid, 7);
    equal(tracker.symbolizer(pid, 7).frame(frame), undefined);
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker stamps the BPF entry with its image and rewrites it for a new image",
  ignore: !python,
  async fn() {
    const { tracker } = await withSleepingPython({ python: true, ruby: true }, (pid, t, map) => {
      const image = () =>
        new DataView(map.processes.get(pid)!.buffer).getUint32(INTERP_INFO.instance, true);
      t.examine(pid, 7);
      equal(image(), 7);
      // Same image again: nothing written.
      map.processes.clear();
      t.examine(pid, 7);
      equal(map.processes.size, 0);
      // The same interpreter mapping under a new image (exec of the same program at the same
      // address): BPF would ignore an entry stamped 7, so it is written again for 8.
      t.examine(pid, 8);
      equal(image(), 8);
    });
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker examines again a Python process first seen before its libpython",
  ignore: !python,
  async fn() {
    const { tracker } = await withSleepingPython({ python: true, ruby: true }, (pid, t, map) => {
      const maps = parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
      ok(maps.some((m) => /libpython/.test(m.path)), "a shared build");
      // Right after its exec the process maps its executable (python3.12) and ld.so only.
      const early = maps.filter((m) => !/libpython|libc/.test(m.path));
      t.examine(pid, 7, early);
      equal(map.processes.size, 0);
      // The window it had samples in ends: it is examined again, now with libpython mapped.
      t.windowEnded(new Set([pid]));
      equal(map.processes.size, 1, "not examined again at the window's end");
      map.processes.clear();
      t.forget(pid);
      t.examine(pid, 7, early);
      // A refresh (its mappings changed) finds it too.
      t.examine(pid, 7);
      equal(map.processes.size, 1, "not examined again on a refresh");
    });
    tracker.close();
  },
});

const RUBY = (() => {
  try {
    return Deno.realPathSync("/usr/bin/ruby"); // Debian's: ruby3.1, with libruby-3.1.so
  } catch {
    return undefined;
  }
})();

/**
 * Runs a sleeping Ruby child from `exe` that has said it is ready, gives `fn` its pid, its
 * mappings as they were right after its exec (the executable and ld.so, before libruby and libc)
 * and a tracker on in-memory maps; then kills it.
 */
async function withSleepingRuby(
  exe: string,
  fn: (pid: number, early: ReturnType<typeof parseMaps>, t: InterpreterTracker) => void,
): Promise<FakeInterpMaps> {
  const child = new Deno.Command(exe, {
    args: ["-e", "puts 'ready'; $stdout.flush; sleep 60"],
    stdout: "piped",
    stdin: "null",
  }).spawn();
  const map = new FakeInterpMaps();
  const tracker = new InterpreterTracker({ python: true, ruby: true, files });
  tracker.attach(map);
  try {
    await readyLine(child, "ruby");
    const maps = parseMaps(Deno.readTextFileSync(`/proc/${child.pid}/maps`));
    ok(maps.some((m) => /libruby/.test(m.path)), "a shared build");
    fn(child.pid, maps.filter((m) => !/libruby|libc|lib(z|gmp|crypt|m)\.so/.test(m.path)), tracker);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    tracker.close();
  }
  return map;
}

for (const named of ["ruby3.1", "ruby"]) {
  Deno.test({
    name: `InterpreterTracker examines again a Ruby process (${named}) first seen before libruby`,
    ignore: !RUBY,
    async fn() {
      // Debian's executable is ruby3.1; a source build's (Docker's ruby images, --enable-shared)
      // is `ruby`, linking libruby.so the same way.
      const dir = Deno.makeTempDirSync({ prefix: "tracker-ruby-" });
      const exe = `${dir}/${named}`;
      Deno.copyFileSync(RUBY!, exe);
      Deno.chmodSync(exe, 0o755);
      try {
        let walked = -1;
        const map = await withSleepingRuby(exe, (pid, early, t) => {
          // Examined right after its exec (at its capture, or the end of a window it had
          // samples in as the child that was about to exec).
          t.examine(pid, 7, early);
          equal(t.walked, 0);
          // The next window it had samples in ends: examined again, now with libruby mapped.
          t.windowEnded(new Set([pid]));
          walked = t.walked;
        });
        equal(walked, 1, "not examined again at the window's end");
        equal(map.processes.size, 1);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}
