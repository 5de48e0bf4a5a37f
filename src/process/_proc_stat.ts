// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** The fields of /proc/PID/stat that the agent uses. */
export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Field 22, `starttime`: clock ticks after boot; with the pid it names a process uniquely. */
  startTimeTicks: number;
  /** Fields 14 and 15, `utime` and `stime`: CPU time in user and kernel mode, in clock ticks. */
  utimeTicks: number;
  stimeTicks: number;
  /** Field 24, `rss`: resident pages. */
  rssPages: number;
}

/**
 * Parses /proc/PID/stat.
 *
 * The command name sits in parentheses and may itself contain spaces and parentheses, so fields
 * are counted from the last ')' (as procps does).
 *
 * @param text The file's content.
 * @returns The fields, or undefined if the text is not shaped like a stat line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 1).trim().split(/\s+/);
  // After ')': [0] state (field 3), [1] ppid (field 4), [11] utime (14), [12] stime (15),
  // [19] starttime (22), [21] rss (24).
  if (f.length < 22) return undefined;
  const [ppid, utimeTicks, stimeTicks, startTimeTicks, rssPages] = [1, 11, 12, 19, 21].map((i) =>
    Number(f[i])
  );
  if (![ppid, utimeTicks, stimeTicks, startTimeTicks, rssPages].every(Number.isSafeInteger)) {
    return undefined;
  }
  return {
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid,
    startTimeTicks,
    utimeTicks,
    stimeTicks,
    rssPages,
  };
}
