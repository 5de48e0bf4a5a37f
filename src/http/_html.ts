// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The one HTML escaper and page frame of the HTTP server. Process names, command lines and
// container labels are chosen by whoever runs a process on the host, so every dynamic value on
// every page goes through escapeHtml(), in text and in attributes alike.

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @param value The text; numbers are converted with `String()`.
 * @returns The text with `& < > " '` replaced by entities.
 */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * Renders labels as `k="v"` chips, sorted by name.
 *
 * @param labels The label set.
 * @param hide Label names left out (shown elsewhere on the page, or internal).
 * @returns HTML.
 */
export function labelChips(labels: Record<string, string>, hide: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => !hide.includes(k))
    .sort()
    .map((k) => `<span class="chip">${escapeHtml(k)}="${escapeHtml(labels[k])}"</span>`)
    .join(" ");
}

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; } th, td { text-align: left; padding: .25em .7em;
  border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: .8em; overflow: auto; max-height: 60em; }
.chip { display: inline-block; background: #eef; border-radius: 3px; padding: 0 .35em;
  margin: 1px 0; font-family: monospace; font-size: .92em; }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-right: .3em; }
.active { background: #2a2; } .error { background: #d22; } .dropped { background: #999; }
.err { color: #b00; } .muted { color: #777; }
`;

/**
 * Wraps a body in a complete page with the inline style sheet; nothing is loaded from elsewhere,
 * which the server's Content-Security-Policy enforces.
 *
 * @param title The page title, escaped here.
 * @param body Already-escaped HTML.
 * @returns The page.
 */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
${body}
</body></html>
`;
}
