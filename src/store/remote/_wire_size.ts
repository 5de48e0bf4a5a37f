// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Exact protobuf sizes of the WriteRaw pieces, computed without encoding them: the batch writer
// needs the size of every queued profile (for the pending-bytes bound) and of every request (for
// the bytes metric), and encoding a multi-megabyte request a second time just to measure it
// would double the CPU the agent spends on sending. The unit test checks these against toBinary.

import type {
  ExecutableInfo,
  Label,
  RawSample,
} from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";

/** Bytes of a varint. */
export function varintSize(v: number | bigint): number {
  let n = BigInt.asUintN(64, BigInt(v));
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** Bytes of a UTF-8 string. */
export function utf8Size(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3; // lone surrogate: encoded as U+FFFD
    } else n += 3;
  }
  return n;
}

/** Bytes of a length-delimited field (tag < 16) holding `len` bytes. */
export function delimitedSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function stringField(s: string): number {
  return s === "" ? 0 : delimitedSize(utf8Size(s));
}

function uint64Field(v: bigint | number): number {
  return BigInt(v) === 0n ? 0 : 1 + varintSize(v);
}

/** Bytes of a Label message body. */
export function labelSize(l: Pick<Label, "name" | "value">): number {
  return stringField(l.name) + stringField(l.value);
}

/** Bytes of a LabelSet message body. */
export function labelSetSize(labels: readonly Pick<Label, "name" | "value">[]): number {
  let n = 0;
  for (const l of labels) n += delimitedSize(labelSize(l));
  return n;
}

/** Bytes of an ExecutableInfo message body. */
export function executableInfoSize(e: ExecutableInfo): number {
  let n = uint64Field(e.elfType);
  if (e.loadSegment) {
    n += delimitedSize(uint64Field(e.loadSegment.offset) + uint64Field(e.loadSegment.vaddr));
  }
  return n;
}

/** Bytes of a RawSample message body. */
export function rawSampleSize(s: RawSample): number {
  let n = s.rawProfile.length === 0 ? 0 : delimitedSize(s.rawProfile.length);
  for (const e of s.executableInfo) n += delimitedSize(executableInfoSize(e));
  return n;
}

/**
 * Bytes of one RawProfileSeries entry inside a WriteRawRequest (tag and length included).
 *
 * @param labelsBody {@link labelSetSize} of its labels.
 * @param sampleBodies {@link rawSampleSize} of each of its samples.
 * @returns The size of field 2 of WriteRawRequest for this series.
 */
export function seriesFieldSize(labelsBody: number, sampleBodies: readonly number[]): number {
  let body = delimitedSize(labelsBody);
  for (const s of sampleBodies) body += delimitedSize(s);
  return delimitedSize(body);
}
