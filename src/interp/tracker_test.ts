// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok } from "node:assert/strict";
import { mapFilesOpener as files } from "./_test_util.ts";
import { INTERP_INFO, InterpKind } from "./bpf_types.ts";
import { InterpreterTracker } from "./tracker.ts";
import { FakeInterpMaps } from "../bpf/mod.ts";
import { installedPythons } from "../../tests/_lib/pythons.ts";

async function started(exe: string, args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(exe, { args, stdout: "piped", stdin: "null" }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // the program says it is ready
  reader.releaseLock();
  return child;
}

const python = installedPythons().find((p) => p.label.includes("3.12"));

Deno.test({
  name: "InterpreterTracker writes a Python process's entry, names its frames, forgets it on exit",
  ignore: !python,
  async fn() {
    const child = await started(python!.exe, [
      "-c",
      "import sys,time\nprint('ready', flush=True)\ntime.sleep(60)",
    ]);
    const map = new FakeInterpMaps();
    const tracker = new InterpreterTracker({ python: true, ruby: true, files });
    tracker.attach(map);
    try {
      tracker.examine(child.pid);
      const entry = map.processes.get(child.pid);
      ok(entry, "no entry written");
      equal(new DataView(entry.buffer).getUint32(INTERP_INFO.kind, true), InterpKind.PYTHON);
      equal(tracker.walked, 1);
      // Examining again with unchanged mappings changes nothing.
      map.processes.clear();
      tracker.examine(child.pid);
      equal(map.processes.size, 0);
      // A frame that is not a code object is shown as unknown, not misnamed.
      const sym = tracker.symbolizer(child.pid);
      equal(sym.frame({ kind: InterpKind.PYTHON, addr: 0x1000, data: 0n }), undefined);
      equal(sym.unknown(InterpKind.PYTHON), "[python]");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
    map.processes.set(child.pid, new Uint8Array(1));
    tracker.windowEnded(new Set());
    equal(map.processes.has(child.pid), false, "exited process still in the map");
    equal(tracker.walked, 0);
    tracker.close();
  },
});

Deno.test({
  name: "InterpreterTracker with Python off leaves a Python process alone",
  ignore: !python,
  async fn() {
    const child = await started(python!.exe, [
      "-c",
      "import time\nprint('ready', flush=True)\ntime.sleep(60)",
    ]);
    const map = new FakeInterpMaps();
    const tracker = new InterpreterTracker({ python: false, ruby: true, files });
    tracker.attach(map);
    try {
      tracker.examine(child.pid);
      equal(map.processes.size, 0);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      tracker.close();
    }
  },
});

Deno.test({
  name: "InterpreterTracker stops writing once the sampler's maps are closed, without a syscall",
  ignore: !python,
  async fn() {
    const child = await started(python!.exe, [
      "-c",
      "import time\nprint('ready', flush=True)\ntime.sleep(60)",
    ]);
    const map = new FakeInterpMaps();
    const tracker = new InterpreterTracker({ python: true, ruby: true, files });
    tracker.attach(map);
    try {
      tracker.examine(child.pid);
      equal(map.processes.size, 1);
      map.close();
      // A process that exits after the maps closed: its entry is not deleted (no call at all).
      tracker.forget(child.pid);
      equal(map.refusedAfterClose, 0);
      // Nor is a process examined after it.
      tracker.examine(child.pid);
      equal(map.refusedAfterClose, 0);
      equal(tracker.walked, 0);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      tracker.close();
    }
  },
});
