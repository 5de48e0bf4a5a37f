// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import {
  escapeHtml,
  htmlPage,
  labelChips,
  type Matcher,
  parseSelector,
  type RouteHandler,
  SelectorError,
} from "../http/mod.ts";
import { decodeProfile, encodeProfile, type Profile } from "../pprof/mod.ts";
import { FlameAggregate, type TopRow } from "./flame.ts";
import type { HistoryEntry, ProfileHistory } from "./history.ts";
import { mergeProfiles } from "./merge.ts";

/** Options of {@link UiHandler}. */
export interface UiOptions {
  /** The profiles kept for the UI. */
  history: ProfileHistory;
  /** Symbolizes a copy of an entry's profile (native frames named). */
  symbolize: (entry: HistoryEntry, profile: Profile) => Promise<Profile>;
  /** Length of a profiling window. */
  profilingDurationMs: number;
  /** The current time in ms (tests). */
  now?: () => number;
}

/** The time ranges the page offers. */
export const RANGES: Readonly<Record<string, { label: string; ms: number }>> = {
  window: { label: "last window", ms: 0 },
  "1m": { label: "1 m", ms: 60_000 },
  "5m": { label: "5 m", ms: 300_000 },
  "15m": { label: "15 m", ms: 900_000 },
};

/** Rows of the top-functions table. */
const TOP_ROWS = 100;
/** Aggregates of recent selections kept (the page and its data request ask for the same). */
const AGGREGATE_CACHE = 4;
/** Profiles decoded and symbolized at once while aggregating a range. */
const CONCURRENCY = 4;

const ASSETS: Readonly<Record<string, { url: URL; type: string }>> = {
  "d3.min.js": {
    url: new URL("../../node_modules/d3/dist/d3.min.js", import.meta.url),
    type: "text/javascript; charset=utf-8",
  },
  "d3-flamegraph.min.js": {
    url: new URL(
      "../../node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js",
      import.meta.url,
    ),
    type: "text/javascript; charset=utf-8",
  },
  "d3-flamegraph.css": {
    url: new URL("../../node_modules/d3-flame-graph/dist/d3-flamegraph.css", import.meta.url),
    type: "text/css; charset=utf-8",
  },
  "ui.js": {
    url: new URL("./assets/ui.js", import.meta.url),
    type: "text/javascript; charset=utf-8",
  },
  "ui.css": { url: new URL("./assets/ui.css", import.meta.url), type: "text/css; charset=utf-8" },
};

const HEADERS: Record<string, string> = {
  // Scripts and styles only from the agent itself; frame names are attacker-chosen text, and
  // even a failure to escape one could run nothing. Inline styles are d3's.
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' " +
    "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; " +
    "form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

function respond(status: number, body: BodyInit | null, type: string): Response {
  const headers = new Headers(HEADERS);
  headers.set("Content-Type", type);
  return new Response(body, { status, headers });
}

function text(status: number, body: string): Response {
  return respond(status, body + "\n", "text/plain; charset=utf-8");
}

interface Selection {
  selector: string;
  matchers: Matcher[];
  range: string;
  diff: boolean;
  current: HistoryEntry[];
  base: HistoryEntry[];
}

function pct(n: number, total: number): string {
  return total > 0 ? `${(100 * n / total).toFixed(1)} %` : "-";
}

/**
 * The flame graph UI on the agent's own port (`/ui`): a page per selector and time range over
 * the in-memory {@link ProfileHistory}, its data as JSON, downloads of the range as a merged
 * symbolized pprof and as folded stacks, and the page's static files (d3, d3-flame-graph and the
 * page script, all served from the agent's own files: no CDN, no internet).
 */
export class UiHandler {
  readonly #opts: UiOptions;
  readonly #assets = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly #aggregates = new Map<string, Promise<FlameAggregate>>();

  /** @param opts History, symbolizer and window length. */
  constructor(opts: UiOptions) {
    this.#opts = opts;
  }

  /**
   * Every path the UI answers, for the HTTP server's route table (`HttpServerOptions.routes`).
   *
   * @returns Path → handler.
   */
  routes(): Map<string, RouteHandler> {
    const handle: RouteHandler = (_req, url) => this.handle(url);
    const paths = ["/ui", "/ui/", "/ui/data.json", "/ui/profile.pb.gz", "/ui/folded.txt"];
    for (const name of Object.keys(ASSETS)) paths.push(`/ui/assets/${name}`);
    return new Map(paths.map((p) => [p, handle]));
  }

  /**
   * Answers a request under `/ui`.
   *
   * @param url The request URL (its path starts with `/ui`).
   * @returns The response.
   */
  async handle(url: URL): Promise<Response> {
    const path = url.pathname;
    if (path.startsWith("/ui/assets/")) return await this.#asset(path.slice("/ui/assets/".length));
    if (
      path !== "/ui" && path !== "/ui/" &&
      !["/ui/data.json", "/ui/profile.pb.gz", "/ui/folded.txt"].includes(path)
    ) {
      return text(404, "404 page not found");
    }
    const sel = this.#select(url);
    if (sel instanceof Response) return sel;
    switch (path) {
      case "/ui/data.json":
        return await this.#data(sel);
      case "/ui/profile.pb.gz": {
        const merged = mergeProfiles(
          await Promise.all(sel.current.map(async (e) => ({
            profile: await this.#opts.symbolize(e, decodeProfile(e.pprof)),
            pid: e.pid,
          }))),
        );
        const res = respond(
          200,
          encodeProfile(merged) as Uint8Array<ArrayBuffer>,
          "application/vnd.google.protobuf+gzip",
        );
        res.headers.set("Content-Disposition", `attachment; filename="profile.pb.gz"`);
        return res;
      }
      case "/ui/folded.txt": {
        const res = respond(
          200,
          (await this.#aggregate(sel.current)).folded(),
          "text/plain; charset=utf-8",
        );
        res.headers.set("Content-Disposition", `attachment; filename="profile.folded.txt"`);
        return res;
      }
      default:
        return await this.#page(sel);
    }
  }

  #select(url: URL): Selection | Response {
    const selector = url.searchParams.get("query") ?? "{}";
    let matchers: Matcher[];
    try {
      matchers = parseSelector(selector);
    } catch (e) {
      if (e instanceof SelectorError) return text(400, e.message);
      throw e;
    }
    const range = url.searchParams.get("range") ?? "window";
    if (!Object.hasOwn(RANGES, range)) {
      return text(
        400,
        `unknown range "${range}": expected one of ${Object.keys(RANGES).join(", ")}`,
      );
    }
    const diff = url.searchParams.get("diff") === "1";
    const h = this.#opts.history;
    let current: HistoryEntry[];
    let base: HistoryEntry[] = [];
    if (range === "window") {
      // The newest window with a matching profile, and the one before it.
      const all = h.select(matchers, 0n, BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n);
      const times = [...new Set(all.map((e) => e.timeNanos))].sort((
        a,
        b,
      ) => (a < b ? 1 : a > b ? -1 : 0));
      current = all.filter((e) => e.timeNanos === times[0]);
      if (diff) base = all.filter((e) => e.timeNanos === times[1]);
    } else {
      const now = BigInt(Math.round((this.#opts.now ?? Date.now)())) * 1_000_000n;
      const span = BigInt(RANGES[range].ms) * 1_000_000n;
      current = h.select(matchers, now - span, now + 1n);
      if (diff) base = h.select(matchers, now - 2n * span, now - span);
    }
    return { selector, matchers, range, diff, current, base };
  }

  /**
   * The stacks of entries merged, one profile at a time (a few at once), so a long range never
   * holds all its decoded profiles. The last few results are kept: the page and its data
   * request ask for the same one.
   */
  #aggregate(entries: readonly HistoryEntry[]): Promise<FlameAggregate> {
    const first = entries[0];
    const last = entries[entries.length - 1];
    const key =
      `${entries.length}:${first?.timeNanos}:${first?.pid}:${last?.timeNanos}:${last?.pid}`;
    let a = this.#aggregates.get(key);
    if (a) {
      this.#aggregates.delete(key);
    } else {
      a = (async () => {
        const agg = new FlameAggregate();
        let next = 0;
        const run = async () => {
          while (next < entries.length) {
            const e = entries[next++];
            agg.addProfile(await this.#opts.symbolize(e, decodeProfile(e.pprof)));
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, run));
        return agg;
      })();
      a.catch(() => this.#aggregates.delete(key));
    }
    this.#aggregates.set(key, a);
    if (this.#aggregates.size > AGGREGATE_CACHE) {
      this.#aggregates.delete(this.#aggregates.keys().next().value!);
    }
    return a;
  }

  async #data(sel: Selection): Promise<Response> {
    const current = await this.#aggregate(sel.current);
    const body = sel.diff
      ? (async () => {
        const base = await this.#aggregate(sel.base);
        return {
          diff: true,
          total: current.total,
          baseTotal: base.total,
          tree: current.tree(base),
        };
      })()
      : Promise.resolve({ diff: false, total: current.total, tree: current.tree() });
    return respond(200, JSON.stringify(await body), "application/json; charset=utf-8");
  }

  #link(sel: Selection, path: string, changes: Record<string, string | undefined>): string {
    const p = new URLSearchParams({ query: sel.selector, range: sel.range });
    if (sel.diff) p.set("diff", "1");
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) p.delete(k);
      else p.set(k, v);
    }
    return `${path}?${p}`;
  }

  async #page(sel: Selection): Promise<Response> {
    const current = await this.#aggregate(sel.current);
    const base = sel.diff ? await this.#aggregate(sel.base) : undefined;
    const total = current.total;
    const baseTotal = base?.total ?? 0;
    const parts: string[] = [];
    parts.push(`<h1>Flame graph</h1>
<form method="get" action="/ui" class="query"><label>Selector <input name="query" size="60" value="${
      escapeHtml(sel.selector)
    }"></label><input type="hidden" name="range" value="${escapeHtml(sel.range)}">${
      sel.diff ? `<input type="hidden" name="diff" value="1">` : ""
    } <button type="submit">Show</button> <a href="/">Status page</a></form>`);
    const ranges = Object.entries(RANGES).map(([k, r]) =>
      k === sel.range
        ? `<strong class="range" data-range="${k}">${escapeHtml(r.label)}</strong>`
        : `<a class="range" data-range="${k}" href="${
          escapeHtml(this.#link(sel, "/ui", { range: k }))
        }">${escapeHtml(r.label)}</a>`
    );
    const diffLink = sel.diff
      ? `<a id="diff-toggle" href="${
        escapeHtml(this.#link(sel, "/ui", { diff: undefined }))
      }">stop comparing</a>`
      : `<a id="diff-toggle" href="${
        escapeHtml(this.#link(sel, "/ui", { diff: "1" }))
      }">compare with the ${
        sel.range === "window" ? "window" : RANGES[sel.range].label
      } before</a>`;
    parts.push(`<p class="ranges">Time range: ${ranges.join(" · ")} · ${diffLink}</p>`);
    const profiles = sel.current.length;
    parts.push(
      `<p id="summary">${escapeHtml(total)} samples in ${escapeHtml(profiles)} profile${
        profiles === 1 ? "" : "s"
      }${
        sel.diff
          ? `, against ${escapeHtml(baseTotal)} samples in ${
            escapeHtml(sel.base.length)
          } before (red: more time now, blue: less)`
          : ""
      }. Download: <a id="download-pprof" href="${
        escapeHtml(this.#link(sel, "/ui/profile.pb.gz", { diff: undefined }))
      }">pprof</a> · <a id="download-folded" href="${
        escapeHtml(this.#link(sel, "/ui/folded.txt", { diff: undefined }))
      }">folded stacks</a></p>`,
    );

    // The series: each distinct label set, with its samples.
    const series = new Map<
      string,
      { labels: Record<string, string>; samples: number; profiles: number }
    >();
    for (const e of sel.current) {
      const k = JSON.stringify(Object.entries(e.labels).sort());
      let s = series.get(k);
      if (!s) series.set(k, s = { labels: e.labels, samples: 0, profiles: 0 });
      s.samples += e.samples;
      s.profiles++;
    }
    const seriesRows = [...series.values()].sort((a, b) => b.samples - a.samples).map((s) =>
      `<tr><td>${labelChips(s.labels, ["__name__"])}</td><td class="num">${
        escapeHtml(s.samples)
      }</td><td class="num">${escapeHtml(s.profiles)}</td></tr>`
    );
    parts.push(`<h2>Series (${series.size})</h2>
${
      series.size === 0
        ? `<p class="muted" id="empty">No profile matches in this range yet. Profiles appear here after each window (${
          escapeHtml(this.#opts.profilingDurationMs / 1000)
        } s).</p>`
        : `<table id="series"><thead><tr><th>Labels</th><th>Samples</th><th>Profiles</th></tr></thead><tbody>
${seriesRows.join("\n")}
</tbody></table>`
    }`);

    parts.push(`<h2>Flame graph</h2>
<div id="controls"><input id="search" type="search" placeholder="Search functions" size="40"> <button id="reset" type="button">Reset zoom</button> <span id="details"></span></div>
<div id="chart" data-src="${escapeHtml(this.#link(sel, "/ui/data.json", {}))}"></div>`);

    const rows = current.top(TOP_ROWS, base);
    parts.push(`<h2>Top functions</h2>${this.#table(rows, total, baseTotal, sel.diff)}`);
    parts.push(
      `<link rel="stylesheet" href="/ui/assets/d3-flamegraph.css"><link rel="stylesheet" href="/ui/assets/ui.css">
<script src="/ui/assets/d3.min.js"></script>
<script src="/ui/assets/d3-flamegraph.min.js"></script>
<script src="/ui/assets/ui.js"></script>`,
    );
    return respond(200, htmlPage("Flame graph", parts.join("\n")), "text/html; charset=utf-8");
  }

  #table(rows: TopRow[], total: number, baseTotal: number, diff: boolean): string {
    const head = diff
      ? `<tr><th>Function</th><th>Self before</th><th>Self now</th><th>Self change</th><th>Total before</th><th>Total now</th></tr>`
      : `<tr><th>Function</th><th>Self</th><th>Self %</th><th>Total</th><th>Total %</th></tr>`;
    const body = rows.map((r) => {
      if (!diff) {
        return `<tr><td class="fn">${escapeHtml(r.name)}</td><td class="num">${
          escapeHtml(r.self)
        }</td><td class="num">${pct(r.self, total)}</td><td class="num">${
          escapeHtml(r.total)
        }</td><td class="num">${pct(r.total, total)}</td></tr>`;
      }
      const before = baseTotal > 0 ? (r.baseSelf ?? 0) / baseTotal : 0;
      const now = total > 0 ? r.self / total : 0;
      const change = ((now - before) * 100).toFixed(1);
      return `<tr><td class="fn">${escapeHtml(r.name)}</td><td class="num">${
        pct(r.baseSelf ?? 0, baseTotal)
      }</td><td class="num">${pct(r.self, total)}</td><td class="num ${
        now > before ? "more" : now < before ? "less" : ""
      }">${now >= before ? "+" : ""}${change} pts</td><td class="num">${
        pct(r.baseTotal ?? 0, baseTotal)
      }</td><td class="num">${pct(r.total, total)}</td></tr>`;
    });
    return `<table id="top"><thead>${head}</thead><tbody>
${body.join("\n")}
</tbody></table>`;
  }

  async #asset(name: string): Promise<Response> {
    const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) return text(404, "404 page not found");
    let bytes = this.#assets.get(name);
    if (!bytes) {
      try {
        bytes = await Deno.readFile(a.url);
      } catch (e) {
        return text(500, `cannot read ${name}: ${(e as Error).message} (run 'deno install')`);
      }
      this.#assets.set(name, bytes);
    }
    const res = respond(200, bytes, a.type);
    // Static files of this agent's version: the browser may keep them.
    res.headers.set("Cache-Control", "max-age=3600");
    return res;
  }
}
