// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A local OTLP trace receiver for tests: gRPC (`TraceService/Export` over h2c) and HTTP
 * (`POST /v1/traces`, `application/x-protobuf`), decoding the real OTLP protobuf
 * (opentelemetry/proto/collector/trace/v1/trace_service.proto and trace/v1/trace.proto) by field
 * number with @bufbuild/protobuf's wire reader.
 *
 * @module
 */

import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";

/** An attribute value as received: string, bool, int (bigint), double, or a list. */
export type AnyValue = string | boolean | bigint | number | AnyValue[] | undefined;

/** One received span. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNanos: bigint;
  endNanos: bigint;
  attributes: Record<string, AnyValue>;
  statusCode: number;
  statusMessage: string;
  /** Of its resource. */
  resource: Record<string, AnyValue>;
  scope: string;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

function fields(bytes: Uint8Array, each: (field: number, wire: WireType, r: BinaryReader) => void) {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    const before = r.pos;
    each(field, wire, r);
    if (r.pos === before) r.skip(wire);
  }
}

function anyValue(bytes: Uint8Array): AnyValue {
  let v: AnyValue;
  fields(bytes, (f, _w, r) => {
    if (f === 1) v = r.string();
    else if (f === 2) v = r.bool();
    else if (f === 3) v = r.int64();
    else if (f === 4) v = r.double();
    else if (f === 5) {
      const list: AnyValue[] = [];
      fields(r.bytes(), (lf, _lw, lr) => {
        if (lf === 1) list.push(anyValue(lr.bytes()));
      });
      v = list;
    }
  });
  return v;
}

function keyValue(bytes: Uint8Array, into: Record<string, AnyValue>): void {
  let key = "";
  let value: AnyValue;
  fields(bytes, (f, _w, r) => {
    if (f === 1) key = r.string();
    else if (f === 2) value = anyValue(r.bytes());
  });
  into[key] = value;
}

function span(bytes: Uint8Array, resource: Record<string, AnyValue>, scope: string): ReceivedSpan {
  const s: ReceivedSpan = {
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: 0,
    startNanos: 0n,
    endNanos: 0n,
    attributes: {},
    statusCode: 0,
    statusMessage: "",
    resource,
    scope,
  };
  fields(bytes, (f, _w, r) => {
    if (f === 1) s.traceId = hex(r.bytes());
    else if (f === 2) s.spanId = hex(r.bytes());
    else if (f === 4) s.parentSpanId = hex(r.bytes());
    else if (f === 5) s.name = r.string();
    else if (f === 6) s.kind = r.int32();
    else if (f === 7) s.startNanos = BigInt(r.fixed64());
    else if (f === 8) s.endNanos = BigInt(r.fixed64());
    else if (f === 9) keyValue(r.bytes(), s.attributes);
    else if (f === 15) {
      fields(r.bytes(), (sf, _sw, sr) => {
        if (sf === 2) s.statusMessage = sr.string();
        else if (sf === 3) s.statusCode = sr.int32();
      });
    }
  });
  return s;
}

/**
 * Decodes an `ExportTraceServiceRequest`.
 *
 * @param bytes The protobuf message.
 * @returns Its spans, each with its resource's attributes.
 */
export function decodeExportTraceRequest(bytes: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(bytes, (f, _w, r) => {
    if (f !== 1) return; // resource_spans
    const resource: Record<string, AnyValue> = {};
    const scopeSpans: Uint8Array[] = [];
    fields(r.bytes(), (rf, _rw, rr) => {
      if (rf === 1) fields(rr.bytes(), (af, _aw, ar) => af === 1 && keyValue(ar.bytes(), resource));
      else if (rf === 2) scopeSpans.push(rr.bytes());
    });
    for (const ss of scopeSpans) {
      let scope = "";
      const spans: Uint8Array[] = [];
      fields(ss, (sf, _sw, sr) => {
        if (sf === 1) fields(sr.bytes(), (nf, _nw, nr) => nf === 1 && (scope = nr.string()));
        else if (sf === 2) spans.push(sr.bytes());
      });
      for (const sp of spans) out.push(span(sp, resource, scope));
    }
  });
  return out;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `127.0.0.1:PORT`. */
  address: string;
  /** Every span received so far. */
  spans: ReceivedSpan[];
  /** Requests received (one per export). */
  requests: number;
  close(): Promise<void>;
}

/**
 * Serves OTLP/gRPC on 127.0.0.1 (h2c, as a collector's `insecure` receiver).
 *
 * @returns The receiver.
 */
export async function startGrpcReceiver(): Promise<OtlpReceiver> {
  const rx: OtlpReceiver = { address: "", spans: [], requests: 0, close: async () => {} };
  const server = http2.createServer();
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (c: Uint8Array) => chunks.push(c));
    stream.on("end", () => {
      const body = concat(chunks);
      const ok = headers[":path"] === "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
      if (ok) {
        // gRPC message framing: 1 byte compressed flag, 4 bytes big-endian length, message.
        for (let off = 0; off + 5 <= body.length;) {
          const len = new DataView(body.buffer, body.byteOffset + off + 1, 4).getUint32(0);
          rx.spans.push(...decodeExportTraceRequest(body.subarray(off + 5, off + 5 + len)));
          off += 5 + len;
        }
        rx.requests++;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
        waitForTrailers: true,
      });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": ok ? "0" : "12" });
      });
      // An empty ExportTraceServiceResponse.
      stream.end(new Uint8Array([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  rx.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  rx.close = async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return rx;
}

/**
 * Serves OTLP/HTTP with protobuf bodies on 127.0.0.1 (`POST /v1/traces`).
 *
 * @returns The receiver.
 */
export function startHttpReceiver(): OtlpReceiver {
  const rx: OtlpReceiver = { address: "", spans: [], requests: 0, close: async () => {} };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST" || path !== "/v1/traces") return new Response("", { status: 404 });
    if (req.headers.get("content-type") !== "application/x-protobuf") {
      return new Response("", { status: 415 });
    }
    rx.spans.push(...decodeExportTraceRequest(new Uint8Array(await req.arrayBuffer())));
    rx.requests++;
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  rx.address = `127.0.0.1:${server.addr.port}`;
  rx.close = () => server.shutdown();
  return rx;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
