// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The CPythons of this machine that the interpreter tests run: pyenv's 3.8+ builds and Debian's.
 *
 * @module
 */

/**
 * Lists the installed CPythons.
 *
 * @returns Label and executable of each, oldest pyenv version first, Debian's last.
 */
export function installedPythons(): { label: string; exe: string }[] {
  const out: { label: string; exe: string }[] = [];
  const root = `${Deno.env.get("HOME") ?? "/root"}/.pyenv/versions`;
  try {
    for (const e of Deno.readDirSync(root)) {
      const m = e.name.match(/^3\.(\d+)\.\d+$/);
      if (m && Number(m[1]) >= 8) {
        out.push({ label: `pyenv ${e.name}`, exe: `${root}/${e.name}/bin/python3` });
      }
    }
  } catch { /* no pyenv */ }
  out.sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
  try {
    Deno.statSync("/usr/bin/python3");
    out.push({ label: "debian python3", exe: "/usr/bin/python3" });
  } catch { /* none */ }
  return out;
}
