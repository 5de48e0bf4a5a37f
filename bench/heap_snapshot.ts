// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What a running agent's main isolate retains: attaches to an agent started with
 * `--inspect=HOST:PORT` (e.g. by `deno task bench:binaries --deno-flags=--inspect=127.0.0.1:9339`),
 * waits until the agent is `--at` seconds old, reads `Deno.memoryUsage()` and V8's heap
 * statistics over the Chrome DevTools Protocol, takes a heap snapshot (which collects garbage
 * first) and prints the heap by object kind and by what dominates it: each node's retained size
 * from the snapshot's dominator tree, summed by the module (script) of the closures, by constructor
 * name, and the largest single retainers with the path from the root. Every agent that appears
 * on the port is measured once (the bench runs its agents one after another).
 *
 *   deno run -A bench/heap_snapshot.ts --port=9339 --at=45 --agents=2 [--save-dir=DIR]
 *
 * @module
 */

import { arg } from "./_lib/proc.ts";

const port = arg("port", 9339);
const at = arg("at", 45);
const agents = arg("agents", 1);
const saveDir = Deno.args.find((a) => a.startsWith("--save-dir="))?.slice(11);

interface Target {
  id: string;
  webSocketDebuggerUrl: string;
}

async function target(): Promise<Target | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/json/list`);
    const list = await r.json() as Target[];
    return list[0];
  } catch {
    return undefined;
  }
}

/** The agent's pid: the process listening on the inspector port. */
async function pidOfPort(): Promise<number | undefined> {
  const out = await new Deno.Command("ss", { args: ["-ltnpH", `sport = :${port}`] }).output();
  const m = /pid=(\d+)/.exec(new TextDecoder().decode(out.stdout));
  return m ? Number(m[1]) : undefined;
}

class Cdp {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (v: unknown) => void>();
  chunks: string[] = [];
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg.result ?? msg.error);
      else if (msg.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.chunks.push(msg.params.chunk);
      }
    };
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((r) => this.#pending.set(id, r));
  }
  close() {
    this.#ws.close();
  }
}

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: string[][];
      edge_fields: string[];
      edge_types: string[][];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function statusKiB(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")) {
    const m = /^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** smaps RSS summed by mapping name (anonymous ones as "[anon]"). */
function smapsByName(pid: number): [string, number][] {
  const by = new Map<string, number>();
  let name = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || "[anon]";
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) by.set(name, (by.get(name) ?? 0) + Number(m[1]));
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

const mib = (b: number) => (b / 1048576).toFixed(2);

function analyze(s: Snapshot): string[] {
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const NF = nf.length, EF = ef.length;
  const nType = nf.indexOf("type"), nName = nf.indexOf("name"), nSelf = nf.indexOf("self_size");
  const nEdges = nf.indexOf("edge_count");
  const eType = ef.indexOf("type"),
    eName = ef.indexOf("name_or_index"),
    eTo = ef.indexOf("to_node");
  const nodeTypes = s.snapshot.meta.node_types[nType];
  const edgeTypes = s.snapshot.meta.edge_types[eType];
  const weak = edgeTypes.indexOf("weak"), shortcut = edgeTypes.indexOf("shortcut");
  const N = s.nodes.length / NF;
  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += s.nodes[i * NF + nEdges] * EF;
    firstEdge[i + 1] = e;
  }
  const typeOf = (i: number) => nodeTypes[s.nodes[i * NF + nType]];
  const nameOf = (i: number) => s.strings[s.nodes[i * NF + nName]];
  const self = (i: number) => s.nodes[i * NF + nSelf];
  // Successors (strong edges) and predecessors.
  const succ = (i: number, f: (j: number, e: number) => void) => {
    for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF) {
      const t = s.edges[e + eType];
      if (t === weak || t === shortcut) continue;
      f(s.edges[e + eTo] / NF, e);
    }
  };
  // DFS post-order from the root (node 0).
  const order: number[] = [];
  const postIndex = new Int32Array(N).fill(-1);
  const visited = new Uint8Array(N);
  const stack: number[] = [0];
  const iter = new Uint32Array(N);
  visited[0] = 1;
  for (let i = 0; i < N; i++) iter[i] = firstEdge[i];
  while (stack.length) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (iter[v] < firstEdge[v + 1]) {
      const e = iter[v];
      iter[v] += EF;
      const t = s.edges[e + eType];
      if (t === weak || t === shortcut) continue;
      const w = s.edges[e + eTo] / NF;
      if (!visited[w]) {
        visited[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      postIndex[v] = order.length;
      order.push(v);
    }
  }
  const preds: number[][] = Array.from({ length: N }, () => []);
  for (let v = 0; v < N; v++) {
    if (!visited[v]) continue;
    succ(v, (w) => {
      if (visited[w]) preds[w].push(v);
    });
  }
  // Cooper-Harvey-Kennedy iterative dominators over post-order indices.
  const M = order.length;
  const idom = new Int32Array(M).fill(-1);
  const root = postIndex[0];
  idom[root] = root;
  let changed = true;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  while (changed) {
    changed = false;
    for (let k = M - 1; k >= 0; k--) {
      if (k === root) continue;
      const v = order[k];
      let nd = -1;
      for (const p of preds[v]) {
        const pk = postIndex[p];
        if (idom[pk] === -1) continue;
        nd = nd === -1 ? pk : intersect(pk, nd);
      }
      if (nd !== -1 && idom[k] !== nd) {
        idom[k] = nd;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(M);
  for (let k = 0; k < M; k++) retained[k] += self(order[k]);
  for (let k = 0; k < M; k++) if (k !== root) retained[idom[k]] += retained[k];
  const total = retained[root];
  const out: string[] = [];
  out.push(`snapshot: ${N} nodes, ${mib(total)} MiB reachable`);
  // Self sizes by node type, and by (type, name) for objects.
  const byType = new Map<string, number>();
  const byCtor = new Map<string, [number, number]>();
  for (let k = 0; k < M; k++) {
    const v = order[k];
    const t = typeOf(v);
    byType.set(t, (byType.get(t) ?? 0) + self(v));
    const key = t === "object" || t === "closure" || t === "native"
      ? `${t}:${nameOf(v).slice(0, 60)}`
      : t;
    const c = byCtor.get(key) ?? [0, 0];
    c[0] += self(v);
    c[1]++;
    byCtor.set(key, c);
  }
  out.push("", "self size by node type (MiB):");
  for (const [t, b] of [...byType].sort((a, b) => b[1] - a[1])) out.push(`  ${t}: ${mib(b)}`);
  out.push("", "self size by kind:name, top 30 (MiB, count):");
  for (const [t, [b, c]] of [...byCtor].sort((a, b) => b[1][0] - a[1][0]).slice(0, 30)) {
    out.push(`  ${t}: ${mib(b)} (${c})`);
  }
  // Largest retainers that are not the root's synthetic children: objects with retained size
  // over 256 KiB whose dominator is a synthetic/root or a (system) node. Walk down the dominator
  // tree from the root, printing nodes with retained > 256 KiB, up to depth 6.
  const children: number[][] = Array.from({ length: M }, () => []);
  for (let k = 0; k < M; k++) if (k !== root) children[idom[k]].push(k);
  // The name of the edge from a node's dominator (or any predecessor) to it.
  const edgeName = (from: number, to: number) => {
    let name = "";
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += EF) {
      if (s.edges[e + eTo] / NF !== to) continue;
      const t = edgeTypes[s.edges[e + eType]];
      const n = s.edges[e + eName];
      name = t === "element" || t === "hidden" ? `[${n}]` : s.strings[n];
      break;
    }
    return name;
  };
  out.push("", "dominator tree, nodes retaining > 256 KiB (retained MiB, self, kind:name):");
  const walk = (k: number, depth: number) => {
    const kids = children[k].filter((c) => retained[c] > 262144).sort((a, b) =>
      retained[b] - retained[a]
    );
    for (const c of kids.slice(0, 12)) {
      const v = order[c];
      out.push(
        `${"  ".repeat(depth + 1)}${mib(retained[c])} (${mib(self(v))}) ${typeOf(v)}:${
          nameOf(v).slice(0, 70).replace(/\n/g, " ")
        } via ${edgeName(order[k], v).slice(0, 40)}`,
      );
      if (depth < 9) walk(c, depth + 1);
    }
  };
  walk(root, 0);
  // By module: each Script's retained size (its source text, line ends, source map) and that of
  // every SharedFunctionInfo that points at it (bytecode, scope infos, feedback metadata), by
  // package (npm:NAME, the repo's src/DIR, Deno's own ext:).
  const scriptPkg = new Map<number, string>();
  const pkgOf = (url: string) => {
    let m = /node_modules\/\.deno\/([^/]+?)@/.exec(url);
    if (m) return `npm:${m[1].replace(/\+/, "/")}`;
    m = /\/(src|bench|tests)\/([^/]+)/.exec(url);
    if (m) return `${m[1]}/${m[2]}`;
    m = /^(ext:[^/]+|node:[^/]+)/.exec(url);
    if (m) return m[1];
    return url.replace(/^.*\//, "").slice(0, 40) || "(no url)";
  };
  for (let k = 0; k < M; k++) {
    const v = order[k];
    const n = nameOf(v);
    if (typeOf(v) === "code" && n.startsWith("system / Script")) {
      scriptPkg.set(v, pkgOf(n.replace(/^system \/ Script \/ ?/, "")));
    }
  }
  const byPkg = new Map<string, [number, number]>();
  const add = (pkg: string, i: 0 | 1, b: number) => {
    const c = byPkg.get(pkg) ?? [0, 0];
    c[i] += b;
    byPkg.set(pkg, c);
  };
  for (let k = 0; k < M; k++) {
    const v = order[k];
    const pkg = scriptPkg.get(v);
    if (pkg !== undefined) {
      add(pkg, 0, retained[k]);
      continue;
    }
    if (typeOf(v) === "code" && nameOf(v).startsWith("system / SharedFunctionInfo")) {
      for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
        if (s.strings[s.edges[e + eName]] !== "script") continue;
        const p = scriptPkg.get(s.edges[e + eTo] / NF);
        if (p !== undefined) add(p, 1, retained[k]);
        break;
      }
    }
  }
  out.push("", "by module (MiB: Script retained = source etc., functions' retained):");
  let ts = 0, tf = 0;
  for (const [p, [a, b]] of [...byPkg].sort((x, y) => y[1][0] + y[1][1] - x[1][0] - x[1][1])) {
    ts += a;
    tf += b;
    if (a + b > 65536) out.push(`  ${p}: ${mib(a)} + ${mib(b)}`);
  }
  out.push(`  all: ${mib(ts)} + ${mib(tf)}`);
  return out;
}

const analyzeFile = Deno.args.find((a) => a.startsWith("--analyze="))?.slice(10);
if (analyzeFile) {
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(analyze(JSON.parse(Deno.readTextFileSync(analyzeFile)) as Snapshot).join("\n"));
  Deno.exit(0);
}

let done = 0;
const seen = new Set<string>();
while (done < agents) {
  const t = await target();
  if (!t || seen.has(t.id)) {
    await new Promise((r) => setTimeout(r, 200));
    continue;
  }
  seen.add(t.id);
  const pid = await pidOfPort();
  if (!pid) continue;
  const startTicks = Number(
    Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ")[19],
  );
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  const age = uptime - startTicks / 100;
  await new Promise((r) => setTimeout(r, Math.max(0, (at - age) * 1000)));
  const ws = new WebSocket(t.webSocketDebuggerUrl);
  await new Promise((r) => (ws.onopen = r));
  const cdp = new Cdp(ws);
  await cdp.send("Runtime.enable");
  const before = statusKiB(pid);
  const mu = await cdp.send("Runtime.evaluate", {
    expression: "JSON.stringify(Deno.memoryUsage())",
    returnByValue: true,
  }) as { result: { value: string } };
  const hs = await cdp.send("Runtime.getHeapUsage") as { usedSize: number; totalSize: number };
  const smaps = smapsByName(pid);
  await cdp.send("HeapProfiler.enable");
  cdp.chunks = [];
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  const after = statusKiB(pid);
  const mu2 = await cdp.send("Runtime.evaluate", {
    expression: "JSON.stringify(Deno.memoryUsage())",
    returnByValue: true,
  }) as { result: { value: string } };
  cdp.close();
  const text = cdp.chunks.join("");
  if (saveDir) {
    await Deno.mkdir(saveDir, { recursive: true });
    await Deno.writeTextFile(`${saveDir}/agent-${done}.heapsnapshot`, text);
  }
  const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((x) =>
    x.startsWith("--dwarf") || x.endsWith("main.ts")
  ).join(" ");
  const lines = [
    `## agent ${done}: pid ${pid} (${cmdline}), age ${at} s`,
    `status before the snapshot (KiB): ${JSON.stringify(before)}`,
    `Deno.memoryUsage(): ${mu.result.value}; Runtime.getHeapUsage: used ${
      mib(hs.usedSize)
    } / total ${mib(hs.totalSize)} MiB`,
    `after the snapshot's GC: ${mu2.result.value}; status ${JSON.stringify(after)}`,
    "smaps RSS by mapping, top 12 (MiB):",
    ...smaps.slice(0, 12).map(([n, k]) => `  ${(k / 1024).toFixed(1)} ${n}`),
    ...analyze(JSON.parse(text) as Snapshot),
    "",
  ];
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(lines.join("\n"));
  done++;
}
