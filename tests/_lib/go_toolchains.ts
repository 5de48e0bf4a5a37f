// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Go toolchains of different `.gopclntab` layouts, and building the Go test programs of
 * tests/programs with them at test time. `scripts/setup.sh --for-tests` installs them: the
 * machine's `go` (the newest layout), Debian's golang-1.19 (the Go 1.18 layout) and Go 1.21
 * fetched once through the module proxy (`GOTOOLCHAIN`), cached outside the repository.
 *
 * @module
 */

const PROGRAMS = new URL("../programs/", import.meta.url).pathname;
/** Where toolchains and build caches live between runs (outside the repository). */
export const GO_CACHE = "/var/cache/profiler-agent-test/go";

/** A Go toolchain the tests build with. */
export interface GoToolchain {
  /** A short name for test names, e.g. `go1.19`. */
  name: string;
  /** The `go` command. */
  go: string;
  /** Extra environment (GOTOOLCHAIN and its caches). */
  env: Record<string, string>;
}

/** The toolchains, newest first; `scripts/setup.sh --for-tests` provides each. */
export const GO_TOOLCHAINS: GoToolchain[] = [
  { name: "machine", go: "go", env: { GOTOOLCHAIN: "local" } },
  { name: "go1.21", go: "go", env: { GOTOOLCHAIN: "go1.21.13" } },
  { name: "go1.19", go: "/usr/lib/go-1.19/bin/go", env: { GOTOOLCHAIN: "local" } },
];

/**
 * Builds tests/programs/<dir> (a `main` package) with a toolchain.
 *
 * @param tc The toolchain.
 * @param dir Program directory under tests/programs, e.g. `go_inline`.
 * @param out Executable path.
 * @param opts `ldflags` (e.g. `-s -w`), `buildmode` (e.g. `pie`), `cgo` (CGO_ENABLED=1).
 * @returns out.
 */
export async function buildGo(
  tc: GoToolchain,
  dir: string,
  out: string,
  opts: { ldflags?: string; buildmode?: string; cgo?: boolean } = {},
): Promise<string> {
  const work = await Deno.makeTempDir({ prefix: "agent-go-" });
  try {
    for (const e of Deno.readDirSync(`${PROGRAMS}${dir}`)) {
      if (e.isFile) await Deno.copyFile(`${PROGRAMS}${dir}/${e.name}`, `${work}/${e.name}`);
    }
    // `go 1.18` (generics) is at most every toolchain's own version: none switches versions.
    await Deno.writeTextFile(`${work}/go.mod`, `module ${dir}\n\ngo 1.18\n`);
    const args = ["build", "-o", out];
    if (opts.ldflags) args.push(`-ldflags=${opts.ldflags}`);
    if (opts.buildmode) args.push(`-buildmode=${opts.buildmode}`);
    args.push(".");
    const res = await new Deno.Command(tc.go, {
      args,
      cwd: work,
      env: {
        ...tc.env,
        GOPATH: `${GO_CACHE}/gopath`,
        GOMODCACHE: `${GO_CACHE}/gopath/pkg/mod`,
        GOCACHE: `${GO_CACHE}/build-${tc.name}`,
        GOFLAGS: "-mod=mod",
        CGO_ENABLED: opts.cgo ? "1" : "0",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!res.success) {
      throw new Error(
        `Cannot build ${dir} with ${tc.name} (run scripts/setup.sh --for-tests): ${
          new TextDecoder().decode(res.stderr)
        }`,
      );
    }
    return out;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
