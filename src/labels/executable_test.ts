// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, match, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import { BytesElfSource, elfBuildId, FileElfSource } from "../process/mod.ts";
import { ElfExecutableInspector, executableFileId } from "./executable.ts";
import { ExecutableLabels, executableName } from "./process_labels.ts";

async function gcc(dir: string, name: string, flags: string[]): Promise<string> {
  await Deno.writeTextFile(`${dir}/${name}.c`, "#include <unistd.h>\nint main(void){pause();}\n");
  const out = await new Deno.Command("gcc", {
    args: [...flags, "-o", `${dir}/${name}`, `${dir}/${name}.c`],
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return `${dir}/${name}`;
}

Deno.test("executableFileId() is SHA-256 of head, tail and big-endian size, first 16 bytes", () => {
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, 10_000n, false);
  const want = createHash("sha256")
    .update(bytes.subarray(0, 4096))
    .update(bytes.subarray(10_000 - 4096))
    .update(size)
    .digest("hex")
    .slice(0, 32);
  equal(executableFileId(new BytesElfSource(bytes)), want);
  // A file smaller than 4 KiB is hashed whole, twice, as the OTel profiler does.
  const small = new Uint8Array([1, 2, 3]);
  const size3 = new Uint8Array(8);
  new DataView(size3.buffer).setBigUint64(0, 3n, false);
  equal(
    executableFileId(new BytesElfSource(small)),
    createHash("sha256").update(small).update(small).update(size3).digest("hex").slice(0, 32),
  );
});

Deno.test("ElfExecutableInspector tells static, stripped and the compiler of gcc builds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const inspector = new ElfExecutableInspector();
    const dynamic = await gcc(dir, "dyn", ["-O1", "-g"]);
    const staticStripped = await gcc(dir, "sta", ["-O1", "-static", "-s"]);
    {
      using src = FileElfSource.open(dynamic);
      const f = inspector.inspect(src)!;
      equal(f.static, false);
      equal(f.stripped, false);
      match(f.compiler, /^GCC: /);
      equal(f.buildId, elfBuildId(src)!.id);
      equal(f.fileId, executableFileId(src));
    }
    {
      using src = FileElfSource.open(staticStripped);
      const f = inspector.inspect(src)!;
      equal(f.static, true);
      equal(f.stripped, true);
      match(f.compiler, /^GCC: /);
    }
    await Deno.writeTextFile(`${dir}/script.sh`, "#!/bin/sh\n");
    using script = FileElfSource.open(`${dir}/script.sh`);
    equal(inspector.inspect(script), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ElfExecutableInspector reads the Go version from .go.buildinfo", async (t) => {
  const goBin = ["/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!goBin) {
    await t.step({ name: "no Go toolchain on this machine", ignore: true, fn() {} });
    return;
  }
  const out = await new Deno.Command(goBin, { args: ["version"], env: { GOTOOLCHAIN: "local" } })
    .output();
  const version = /go version (go[^ ]+)/.exec(new TextDecoder().decode(out.stdout))![1];
  using src = FileElfSource.open(goBin);
  const f = new ElfExecutableInspector().inspect(src)!;
  equal(f.compiler, version);
  equal(f.static, true); // the go command is built with CGO off
});

Deno.test({
  name: "ExecutableLabels reads /proc/PID/exe of a running process, once per file",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const bin = await gcc(dir, "sleeper", ["-O1"]);
    const child = new Deno.Command(bin, { stdout: "null", stderr: "null" }).spawn();
    try {
      let inspected = 0;
      const inner = new ElfExecutableInspector();
      const labels = new ExecutableLabels({
        inspect(src) {
          inspected++;
          return inner.inspect(src);
        },
      });
      const exe = Deno.readLinkSync(`/proc/${child.pid}/exe`);
      const l = labels.labels(child.pid, exe);
      equal(l.__meta_process_executable_name, "sleeper");
      equal(l.__meta_process_executable_static, "false");
      equal(l.__meta_process_executable_stripped, "false");
      match(l.__meta_process_executable_compiler, /^GCC: /);
      using src = FileElfSource.open(bin);
      equal(l.__meta_process_executable_build_id, elfBuildId(src)!.id);
      equal(l.__meta_process_executable_file_id, executableFileId(src));
      labels.labels(child.pid, exe);
      equal(inspected, 1);
      const uncached = new ExecutableLabels(inner, false);
      equal(uncached.labels(child.pid, exe).__meta_process_executable_name, "sleeper");
      ok(Object.keys(labels.labels(child.pid, "")).length === 0, "kernel threads have none");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("executableName() strips the directory and the (deleted) suffix", () => {
  equal(executableName("/usr/sbin/nginx"), "nginx");
  equal(executableName("/tmp/a b/prog (deleted)"), "prog");
});
