// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A small in-process gRPC server speaking the Parca services the agent calls, for what the real
 * server cannot show: it records the `authorization` header of every call (OSS Parca ignores
 * it), serves TLS with a self-signed certificate, and records crash reports.
 *
 * @module
 */

import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  DebuginfoService,
  ShouldInitiateUploadResponseSchema,
} from "../../src/gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
import {
  ProfileStoreService,
  type WriteRawRequest,
  WriteRawResponseSchema,
} from "../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import {
  type ReportPanicRequest,
  ReportPanicResponseSchema,
  TelemetryService,
} from "../../src/gen/parca/telemetry/v1alpha1/telemetry_pb.ts";

/** A running fake server and what it saw. */
export interface FakeParca {
  /** `127.0.0.1:port`. */
  address: string;
  /** `authorization` header of each call, with its method name. */
  calls: Array<{ method: string; authorization: string | null }>;
  /** WriteRaw requests received. */
  writes: WriteRawRequest[];
  /** ReportPanic requests received. */
  panics: ReportPanicRequest[];
  /** Stops listening and closes connections. */
  close(): Promise<void>;
}

/**
 * Generates a self-signed certificate for 127.0.0.1 with openssl.
 *
 * @param dir Where the key and certificate go.
 * @returns Their PEM contents.
 */
export async function selfSignedCert(dir: string): Promise<{ key: string; cert: string }> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/server.key`,
      "-out",
      `${dir}/server.crt`,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`openssl failed: ${new TextDecoder().decode(out.stderr)}`);
  return {
    key: await Deno.readTextFile(`${dir}/server.key`),
    cert: await Deno.readTextFile(`${dir}/server.crt`),
  };
}

/**
 * Starts the fake server on 127.0.0.1 with a free port.
 *
 * @param tls Key and certificate for TLS; plaintext h2c without.
 * @returns The server.
 */
export async function startFakeParca(tls?: { key: string; cert: string }): Promise<FakeParca> {
  const calls: FakeParca["calls"] = [];
  const writes: WriteRawRequest[] = [];
  const panics: ReportPanicRequest[] = [];
  const record: Interceptor = (next) => (req) => {
    calls.push({ method: req.method.name, authorization: req.header.get("authorization") });
    return next(req);
  };
  const routes = (router: ConnectRouter) => {
    router.service(ProfileStoreService, {
      writeRaw(req) {
        writes.push(req);
        return create(WriteRawResponseSchema);
      },
    });
    router.service(DebuginfoService, {
      shouldInitiateUpload() {
        return create(ShouldInitiateUploadResponseSchema, {
          shouldInitiateUpload: false,
          reason: "Debuginfo already exists.",
        });
      },
    });
    router.service(TelemetryService, {
      reportPanic(req) {
        panics.push(req);
        return create(ReportPanicResponseSchema);
      },
    });
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors: [record],
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: 64 << 20,
  });
  const server = tls ? http2.createSecureServer(tls, handler) : http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
  return {
    address: `127.0.0.1:${port}`,
    calls,
    writes,
    panics,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
