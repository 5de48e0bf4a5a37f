// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  BuildIDType,
  DebuginfoService,
  InitiateUploadResponseSchema,
  MarkUploadFinishedResponseSchema,
  ShouldInitiateUploadResponseSchema,
  UploadInstructions_UploadStrategy as Strategy,
  UploadResponseSchema,
} from "../gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
import { type ExecutableMapping, FileElfSource } from "../process/mod.ts";
import {
  DebuginfoUploader,
  prepareUpload,
  UPLOAD_CHUNK_BYTES,
  type UploaderOptions,
} from "./uploader.ts";

interface Server {
  calls: string[];
  uploaded: Uint8Array;
  firstMessage: string;
  hash: string;
  size: bigint;
  buildIdType: BuildIDType;
}

function fakeServer(opts: {
  want?: boolean;
  strategy?: Strategy;
  signedUrl?: string;
  initiateError?: Code;
  gate?: Promise<void>;
}) {
  const s: Server = {
    calls: [],
    uploaded: new Uint8Array(),
    firstMessage: "",
    hash: "",
    size: 0n,
    buildIdType: BuildIDType.BUILD_ID_TYPE_UNKNOWN_UNSPECIFIED,
  };
  const transport = createRouterTransport(({ service }) => {
    service(DebuginfoService, {
      async shouldInitiateUpload(req) {
        s.calls.push(`should:${req.buildId}`);
        s.buildIdType = req.buildIdType;
        await opts.gate;
        return create(ShouldInitiateUploadResponseSchema, {
          shouldInitiateUpload: opts.want ?? true,
          reason: opts.want === false
            ? "Debuginfo already exists."
            : "First time we see this Build ID.",
        });
      },
      initiateUpload(req) {
        s.calls.push("initiate");
        s.hash = req.hash;
        s.size = req.size;
        if (opts.initiateError !== undefined) throw new ConnectError("no", opts.initiateError);
        return create(InitiateUploadResponseSchema, {
          uploadInstructions: {
            buildId: req.buildId,
            uploadId: "upload-1",
            uploadStrategy: opts.strategy ?? Strategy.GRPC,
            signedUrl: opts.signedUrl ?? "",
          },
        });
      },
      async upload(reqs) {
        s.calls.push("upload");
        const parts: Uint8Array[] = [];
        for await (const r of reqs) {
          if (r.data.case === "info") s.firstMessage = `info:${r.data.value.uploadId}`;
          else if (r.data.case === "chunkData") {
            ok(r.data.value.length <= UPLOAD_CHUNK_BYTES);
            parts.push(r.data.value);
          }
        }
        s.uploaded = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          s.uploaded.set(p, o);
          o += p.length;
        }
        return create(UploadResponseSchema, { size: BigInt(o) });
      },
      markUploadFinished(req) {
        s.calls.push(`finished:${req.uploadId}`);
        return create(MarkUploadFinishedResponseSchema);
      },
    });
  });
  return { server: s, client: createClient(DebuginfoService, transport) };
}

// Stands in for the mapped binary: 17 MiB + 5 bytes, so the Upload stream needs three chunks.
const FILE = await Deno.makeTempFile({ prefix: "debuginfo-upload-" });
{
  const data = new Uint8Array(17 * (1 << 20) + 5);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i >> 12) & 0xff;
  await Deno.writeFile(FILE, data);
}
globalThis.addEventListener("unload", () => Deno.removeSync(FILE));

function mapping(buildId: string): ExecutableMapping {
  return {
    start: 0x1000,
    limit: 0x2000,
    offset: 0,
    path: "/opt/app/bin/app",
    buildId,
    buildIdKind: "gnu",
    special: false,
    deleted: false,
  };
}

function uploader(
  client: UploaderOptions["client"],
  extra: Partial<UploaderOptions> = {},
): { u: DebuginfoUploader; opened: string[] } {
  const opened: string[] = [];
  const u = new DebuginfoUploader({
    client,
    directories: [],
    maxParallel: 2,
    timeoutMs: 20_000,
    cacheMs: 60_000,
    disableCaching: false,
    strip: false,
    compress: false,
    log: { info: () => {}, warn: () => {}, debug: () => {} },
    rootOf: () => "/nonexistent-root",
    openBinary: (_pid, m) => {
      opened.push(m.buildId);
      return { path: FILE, how: "binary", file: FileElfSource.open(FILE) };
    },
    ...extra,
  });
  return { u, opened };
}

Deno.test("DebuginfoUploader uploads a new build ID once: should, initiate, stream, finish", async () => {
  const { server, client } = fakeServer({});
  const { u, opened } = uploader(client);
  const m = mapping("abcd1234");
  u.observe(1, [m]);
  u.observe(2, [m]); // in flight: not a second job
  await u.idle();
  deepStrictEqual(server.calls, ["should:abcd1234", "initiate", "upload", "finished:upload-1"]);
  strictEqual(server.firstMessage, "info:upload-1");
  strictEqual(server.buildIdType, BuildIDType.BUILD_ID_TYPE_GNU);
  const file = await Deno.readFile(FILE);
  strictEqual(server.size, BigInt(file.length));
  strictEqual(server.uploaded.length, file.length);
  ok(server.uploaded.every((b, i) => b === file[i]), "the uploaded bytes are the file's");
  strictEqual(server.hash.length, 64);
  deepStrictEqual(opened, ["abcd1234"]);
  // Known now (cached): seeing it again does nothing.
  u.observe(3, [m]);
  await u.idle();
  strictEqual(server.calls.length, 4);
});

Deno.test("DebuginfoUploader remembers a build ID the server does not want, unless caching is off", async () => {
  const { server, client } = fakeServer({ want: false });
  const { u, opened } = uploader(client);
  u.observe(1, [mapping("ee01")]);
  await u.idle();
  u.observe(1, [mapping("ee01")]);
  await u.idle();
  deepStrictEqual(server.calls, ["should:ee01"]);
  deepStrictEqual(opened, [], "the file is not even opened");

  const off = fakeServer({ want: false });
  const { u: u2 } = uploader(off.client, { disableCaching: true });
  u2.observe(1, [mapping("ee01")]);
  await u2.idle();
  u2.observe(1, [mapping("ee01")]);
  await u2.idle();
  deepStrictEqual(off.server.calls, ["should:ee01", "should:ee01"]);
});

Deno.test("DebuginfoUploader treats AlreadyExists from InitiateUpload as done", async () => {
  const { server, client } = fakeServer({ initiateError: Code.AlreadyExists });
  const { u } = uploader(client);
  u.observe(1, [mapping("aa02")]);
  await u.idle();
  u.observe(1, [mapping("aa02")]);
  await u.idle();
  deepStrictEqual(server.calls, ["should:aa02", "initiate"]);
});

Deno.test("DebuginfoUploader backs off after a failure instead of looping", async () => {
  const { server, client } = fakeServer({ initiateError: Code.InvalidArgument });
  const warnings: string[] = [];
  const { u } = uploader(client, {
    log: { info: () => {}, debug: () => {}, warn: (m) => warnings.push(m) },
  });
  u.observe(1, [mapping("bb03")]);
  await u.idle();
  u.observe(1, [mapping("bb03")]);
  await u.idle();
  deepStrictEqual(server.calls, ["should:bb03", "initiate"]);
  deepStrictEqual(warnings, ["debuginfo upload failed"]);
});

Deno.test("DebuginfoUploader skips special mappings and mappings without a build ID", async () => {
  const { server, client } = fakeServer({});
  const { u } = uploader(client);
  u.observe(1, [
    { ...mapping(""), buildIdKind: "none" },
    { ...mapping("cc04"), special: true, path: "[vdso]" },
  ]);
  await u.idle();
  deepStrictEqual(server.calls, []);
});

Deno.test("DebuginfoUploader runs at most maxParallel jobs at once", async () => {
  const gate = Promise.withResolvers<void>();
  const { server, client } = fakeServer({ want: false, gate: gate.promise });
  const { u } = uploader(client, { maxParallel: 2 });
  u.observe(1, ["d1", "d2", "d3", "d4"].map(mapping));
  await new Promise((r) => setTimeout(r, 50));
  strictEqual(server.calls.length, 2);
  strictEqual(u.inFlight, 4);
  gate.resolve();
  await u.idle();
  strictEqual(server.calls.length, 4);
});

Deno.test("DebuginfoUploader PUTs the file to a signed URL when told to", async () => {
  let got: { method: string; length: string | null; body: Uint8Array } | undefined;
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got = {
      method: req.method,
      length: req.headers.get("content-length"),
      body: new Uint8Array(await req.arrayBuffer()),
    };
    return new Response(null, { status: 200 });
  });
  try {
    const url = `http://127.0.0.1:${http.addr.port}/bucket/upload-1?sig=x`;
    const { server, client } = fakeServer({ strategy: Strategy.SIGNED_URL, signedUrl: url });
    const { u } = uploader(client);
    u.observe(1, [mapping("ff05")]);
    await u.idle();
    deepStrictEqual(server.calls, ["should:ff05", "initiate", "finished:upload-1"]);
    const file = await Deno.readFile(FILE);
    strictEqual(got?.method, "PUT");
    strictEqual(got?.length, String(file.length));
    strictEqual(got?.body.length, file.length);
  } finally {
    await http.shutdown();
  }
});

async function run(cmd: string, args: string[]): Promise<{ out: string; err: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(r.stdout);
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${err}`);
  return { out, err };
}

/** The `readelf -S -W` line of a section. */
function sectionLine(readelf: string, name: string): string {
  const line = readelf.split("\n").find((l) =>
    new RegExp(`\\]\\s+${name.replace(".", "\\.")}\\s`).test(l)
  );
  if (!line) throw new Error(`no ${name} in readelf -S output`);
  return line;
}

Deno.test("DebuginfoUploader strips (and compresses) a binary in an unlinked temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "debuginfo-strip-" });
  try {
    await Deno.writeTextFile(
      `${dir}/app.c`,
      "#include <stdio.h>\n" +
        "__attribute__((noinline)) static long chain_c(long n) { long s = 0; " +
        "for (long i = 0; i < n; i++) s += i * i; return s; }\n" +
        'int main(int argc, char **argv) { (void)argv; printf("%ld\\n", chain_c(argc)); return 0; }\n',
    );
    const bin = `${dir}/app`;
    await run("gcc", ["-g", "-O2", "-o", bin, `${dir}/app.c`]);
    const tempDir = `${dir}/tmp`;
    await Deno.mkdir(tempDir);
    const original = await Deno.readFile(bin);
    const sizes: number[] = [];
    for (const compress of [false, true]) {
      const { server, client } = fakeServer({});
      const { u } = uploader(client, {
        strip: true,
        compress,
        tempDir,
        openBinary: () => ({ path: bin, how: "binary", file: FileElfSource.open(bin) }),
      });
      u.observe(1, [mapping(compress ? "5702" : "5701")]);
      await u.idle();
      deepStrictEqual(server.calls.slice(-1), ["finished:upload-1"]);
      strictEqual(Number(server.size), server.uploaded.length);
      const hash = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", server.uploaded.slice())),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      strictEqual(server.hash, hash, "the hash is of the uploaded (stripped) bytes");
      ok(server.uploaded.length < original.length, "smaller than the binary");
      sizes.push(server.uploaded.length);
      deepStrictEqual([...Deno.readDirSync(tempDir)], [], "nothing is left in the temp dir");

      const out = `${dir}/uploaded-${compress}`;
      await Deno.writeFile(out, server.uploaded);
      const { out: sections } = await run("readelf", ["-S", "-W", out]);
      ok(/\sNOBITS\s/.test(sectionLine(sections, ".text")), sectionLine(sections, ".text"));
      const info = sectionLine(sections, ".debug_info");
      ok(/\sPROGBITS\s/.test(info), info);
      // Flg is the field before Lk Inf Al: C for compressed.
      const flags = info.trim().split(/\s+/).slice(-4, -3)[0];
      strictEqual(flags.includes("C"), compress, info);
      ok(/\sSYMTAB\s/.test(sectionLine(sections, ".symtab")));
      const { out: dwarf } = await run("readelf", ["--debug-dump=info", out]);
      ok(dwarf.includes("DW_TAG_compile_unit"));
      ok(dwarf.includes("chain_c"), "readelf decodes the DWARF of the uploaded file");
      const { out: syms } = await run("readelf", ["-s", "-W", out]);
      ok(syms.includes("chain_c"));
    }
    ok(sizes[1] < sizes[0], `compressed ${sizes[1]} < stripped ${sizes[0]}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareUpload sends separate debug files as found unless compressing, and non-ELF as found", async () => {
  const file = FileElfSource.open(FILE);
  try {
    const found = { path: FILE, how: "build-id" as const, file };
    const p = await prepareUpload(found, { strip: true, compress: false, tempDir: "/tmp" });
    strictEqual(p.transform, "as-is");
    strictEqual(p.fd, file.fd);
    // Not an ELF file: the strip fails and the file goes as found (logged at debug).
    const debug: string[] = [];
    const q = await prepareUpload({ ...found, how: "binary" }, {
      strip: true,
      compress: true,
      tempDir: "/tmp",
      log: { debug: (m) => debug.push(m) },
    });
    strictEqual(q.transform, "as-is");
    strictEqual(q.size, file.size);
    deepStrictEqual(debug, ["cannot strip the file, uploading it as found"]);
  } finally {
    file.close();
  }
});
