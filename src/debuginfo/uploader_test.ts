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
import { DebuginfoUploader, UPLOAD_CHUNK_BYTES, type UploaderOptions } from "./uploader.ts";

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
