// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { escapeHtml, htmlPage, labelChips } from "./_html.ts";
import type { StatusSnapshot } from "./server.ts";

/** "N s ago", or a dash when the moment has not happened yet. */
function ago(t: Date | undefined, now: number): string {
  if (!t) return `<span class="muted">-</span>`;
  const s = Math.max(0, Math.round((now - t.getTime()) / 1000));
  return `<span title="${escapeHtml(t.toISOString())}">${s} s ago</span>`;
}

function errorCell(e: string | undefined): string {
  return e ? `<span class="err">${escapeHtml(e)}</span>` : "";
}

/**
 * Renders the status page (`/`): active profilers, processes, configuration, flags and links.
 *
 * @param s The status to show.
 * @param now The current time in ms, for the "N s ago" columns.
 * @param options `rawLabels`: show each process's labels before relabeling (`/?labels=raw`);
 *   `rawLabelsEnabled`: whether that view is on at all (`--http-raw-labels`), for the link to it.
 * @returns The complete HTML page.
 */
export function renderStatusPage(
  s: StatusSnapshot,
  now: number,
  options: { rawLabels?: boolean; rawLabelsEnabled?: boolean } = {},
): string {
  const parts: string[] = [];
  parts.push(`<h1>Profiler agent</h1>`);

  parts.push(`<h2>Active profilers</h2>
<table><thead><tr><th>Name</th><th>Window started</th><th>Last window ended</th>
<th>Sampling</th><th>Profiling duration</th><th>Last error</th></tr></thead>
<tbody><tr><td>${escapeHtml(s.profilerName)}</td><td>${ago(s.windowStartedAt, now)}</td>
<td>${ago(s.lastWindowEndedAt, now)}</td><td class="num">${
    escapeHtml(s.samplingFrequencyHz)
  } Hz</td>
<td class="num">${escapeHtml(s.profilingDurationMs / 1000)} s</td><td>${
    errorCell(s.lastError)
  }</td></tr></tbody></table>`);
  if (s.localStore !== undefined) {
    parts.push(`<p>Profiles are also written to <code>${escapeHtml(s.localStore)}</code>.</p>`);
  }

  // Busiest first: the processes a user opens this page for are at the top.
  const processes = [...s.processes].sort((a, b) => b.samples - a.samples || a.pid - b.pid);
  const raw = options.rawLabels === true;
  const rows = processes.map((p) => {
    // A series is found by its own labels: pid alone when a rule kept it, else all of them.
    const selector = p.labels.pid === String(p.pid)
      ? `{pid="${p.pid}"}`
      : `{${
        Object.entries(p.labels).filter(([k]) => k !== "__name__").map(([k, v]) =>
          `${k}=${JSON.stringify(v)}`
        ).join(",")
      }}`;
    const href = "/query?debug=1&query=" + encodeURIComponent(selector);
    const flame = "/ui?query=" + encodeURIComponent(selector);
    const labels = raw ? p.rawLabels ?? {} : p.labels;
    return `<tr><td class="num">${escapeHtml(p.pid)}</td>
<td>${labelChips(labels, raw ? [] : ["__name__", "pid"])}</td><td class="num">${
      escapeHtml(p.samples)
    }</td>
<td><span class="dot ${escapeHtml(p.status)}"></span>${
      escapeHtml(p.status === "dropped" ? "dropped by config" : p.status)
    }</td>
<td>${errorCell(p.lastError)}</td><td>${
      p.status === "dropped"
        ? ""
        : `<a href="${escapeHtml(href)}">Show next profile</a>${
          s.ui ? ` · <a class="flame" href="${escapeHtml(flame)}">Flame graph</a>` : ""
        }`
    }</td></tr>`;
  });
  parts.push(`<h2>Processes (${processes.length})</h2>
<p>${
    raw
      ? `Labels before relabeling. <a href="/">Show final labels</a>`
      : options.rawLabelsEnabled
      ? `Final labels. <a href="/?labels=raw">Show labels before relabeling</a>`
      : `Final labels.`
  }</p>
<table><thead><tr><th>PID</th><th>Labels</th><th>Samples</th><th>Status</th><th>Last error</th>
<th></th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>`);

  parts.push(`<h2>Configuration</h2>`);
  parts.push(
    s.config === ""
      ? `<p class="muted">No configuration file loaded.</p>`
      : `<pre>${escapeHtml(s.config)}</pre>`,
  );

  const flags = s.flags.map(([k, v]) =>
    `<tr><td><code>--${escapeHtml(k.replace(/^--/, ""))}</code></td><td><code>${
      escapeHtml(v)
    }</code></td></tr>`
  );
  parts.push(`<h2>Flags</h2>
<table><tbody>
${flags.join("\n")}
</tbody></table>`);

  parts.push(`<h2>Links</h2>
<ul>${s.ui ? `<li><a href="/ui">/ui</a> (flame graph of every process)</li>` : ""}
<li><a href="/metrics">/metrics</a></li><li><a href="/healthy">/healthy</a></li>
<li><a href="/ready">/ready</a></li></ul>`);

  return htmlPage("Profiler agent status", parts.join("\n"));
}
