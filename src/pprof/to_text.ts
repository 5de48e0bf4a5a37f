// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import type { Profile } from "../gen/perftools/profiles/profile_pb.ts";

/**
 * Renders a profile for people, in the spirit of pprof's `profile.String()`: a header (time,
 * duration, period, sample types), then each sample with its values, labels and frames (function
 * name or address, and mapping file), then the mappings with their build IDs. Served by
 * `/query?debug=1`.
 *
 * Broken references (an index past a table) print as `?` rather than throwing, so the dump also
 * works on profiles that `validateProfile` rejects.
 *
 * @param p The profile.
 * @returns Multi-line text ending in a newline.
 */
export function profileToText(p: Profile): string {
  const s = (i: bigint): string => p.stringTable[Number(i)] ?? "?";
  const vt = (t: { type: bigint; unit: bigint } | undefined): string =>
    t ? `${s(t.type)}/${s(t.unit)}` : "-";
  const hex = (n: bigint): string => `0x${n.toString(16)}`;
  const out: string[] = [];
  out.push(`Time: ${formatTime(p.timeNanos)}`);
  out.push(`Duration: ${formatDuration(p.durationNanos)}`);
  out.push(`PeriodType: ${vt(p.periodType)}`);
  out.push(`Period: ${p.period}`);
  out.push(`SampleTypes: ${p.sampleType.map(vt).join(" ")}`);
  out.push(`Samples: ${p.sample.length}`);
  for (const sample of p.sample) {
    const labels = sample.label.map((l) =>
      l.str !== 0n || l.num === 0n
        ? `${s(l.key)}=${JSON.stringify(s(l.str))}`
        : `${s(l.key)}=${l.num}${l.numUnit !== 0n ? s(l.numUnit) : ""}`
    );
    out.push(`  ${sample.value.join(" ")}${labels.length ? "  " + labels.join(" ") : ""}`);
    sample.locationId.forEach((id, depth) => {
      const loc = p.location[Number(id) - 1];
      if (loc === undefined) {
        out.push(`    #${depth} ? (location ${id})`);
        return;
      }
      const names = loc.line.map((ln) => {
        const fn = p.function[Number(ln.functionId) - 1];
        const name = fn ? s(fn.name) : "?";
        return ln.line !== 0n ? `${name}:${ln.line}` : name;
      });
      const where = names.length > 0 ? names.join(" <- inlined in ") : hex(loc.address);
      const m = loc.mappingId === 0n ? undefined : p.mapping[Number(loc.mappingId) - 1];
      const file = loc.mappingId === 0n ? "" : ` ${m ? s(m.filename) : "?"}`;
      const addr = names.length > 0 && loc.address !== 0n ? ` (${hex(loc.address)})` : "";
      out.push(`    #${depth} ${where}${addr}${file}`);
    });
  }
  out.push(`Mappings: ${p.mapping.length}`);
  for (const m of p.mapping) {
    const id = s(m.buildId);
    out.push(
      `  ${m.id}: ${hex(m.memoryStart)}-${hex(m.memoryLimit)} off=${hex(m.fileOffset)} ${
        s(m.filename)
      }` +
        (id ? ` build_id=${id}` : ""),
    );
  }
  return out.join("\n") + "\n";
}

function formatTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ns}ns` : `${d.toISOString()} (${ns}ns)`;
}

function formatDuration(ns: bigint): string {
  return `${(Number(ns) / 1e9).toFixed(3)}s`;
}
