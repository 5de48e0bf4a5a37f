// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, match, ok } from "node:assert/strict";
import { currentVersion, gitRevision, versionText } from "./version.ts";
import { VERSION } from "../version.ts";

function git(dir: string, ...args: string[]): void {
  const out = new Deno.Command("git", {
    args: ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.test("versionText() prints the version, revision and runtime versions", () => {
  equal(
    versionText({
      version: "1.2.3",
      revision: "0123456789ab-dirty",
      deno: "2.9.6",
      v8: "15.0",
      typescript: "6.0.3",
    }),
    "parca-agent 1.2.3 (revision 0123456789ab-dirty)\ndeno 2.9.6, v8 15.0, typescript 6.0.3\n",
  );
});

Deno.test("currentVersion() reports VERSION and this runtime", () => {
  const v = currentVersion("/nonexistent");
  equal(v.version, VERSION);
  equal(v.revision, "unknown");
  equal(v.deno, Deno.version.deno);
});

Deno.test("gitRevision() returns unknown outside a repository or before the first commit", () => {
  const dir = Deno.makeTempDirSync();
  try {
    equal(gitRevision(dir), "unknown");
    git(dir, "init", "-q");
    equal(gitRevision(dir), "unknown");
    equal(gitRevision(`${dir}/missing`), "unknown");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gitRevision() returns 12 hex digits, dirty only for tracked changes", () => {
  const dir = Deno.makeTempDirSync();
  try {
    git(dir, "init", "-q");
    Deno.writeTextFileSync(`${dir}/a.txt`, "one\n");
    git(dir, "add", "a.txt");
    git(dir, "commit", "-q", "-m", "first");
    const clean = gitRevision(dir);
    match(clean, /^[0-9a-f]{12}$/);
    Deno.writeTextFileSync(`${dir}/untracked.log`, "x\n");
    equal(gitRevision(dir), clean);
    Deno.writeTextFileSync(`${dir}/a.txt`, "two\n");
    equal(gitRevision(dir), `${clean}-dirty`);
    ok(gitRevision(dir).endsWith("-dirty"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
