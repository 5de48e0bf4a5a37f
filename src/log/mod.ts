// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Logging: one line per event on stderr, as logfmt or JSON lines, through LogTape.
 *
 * Modules take a logger for their category with {@link getLogger} and pass structured fields as
 * properties; `configureLogging` is called once by `main.ts` after the flags are parsed. Before
 * that (and in tests) records at `warning` and above still reach stderr.
 *
 * @example
 * ```ts
 * import { configureLogging, getLogger } from "./mod.ts";
 * configureLogging({ level: "info", format: "logfmt" });
 * getLogger("profiler").info("attached perf events", { cpus: 2 });
 * ```
 *
 * @module
 */

import {
  configureSync,
  getJsonLinesFormatter,
  getLogfmtFormatter,
  getLogger as getLogTapeLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";

export type { Logger };

/** The agent's log levels, as named on the command line. */
export type AgentLogLevel = "error" | "warn" | "info" | "debug";

/** Output format of log lines. */
export type LogFormat = "logfmt" | "json";

const LEVELS: Record<AgentLogLevel, LogLevel> = {
  error: "error",
  warn: "warning",
  info: "info",
  debug: "debug",
};

const encoder = new TextEncoder();

/** A sink that writes each formatted record to stderr synchronously, so no line is lost at exit. */
function stderrSink(format: (r: LogRecord) => string): Sink {
  return (record: LogRecord) => {
    let line = format(record);
    if (!line.endsWith("\n")) line += "\n";
    try {
      Deno.stderr.writeSync(encoder.encode(line));
    } catch {
      // stderr closed: nothing sensible left to do with a log line.
    }
  };
}

let configured = false;

/**
 * Sets the level and format of all loggers; may be called again to change them.
 *
 * @param options The level (lowest one written) and line format.
 */
export function configureLogging(options: { level: AgentLogLevel; format: LogFormat }): void {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter({ categorySeparator: ".", message: "rendered", properties: "flatten" })
    : getLogfmtFormatter({ categorySeparator: "." });
  if (configured) resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink(formatter) },
    loggers: [
      { category: ["agent"], lowestLevel: LEVELS[options.level], sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["stderr"] },
    ],
  });
  configured = true;
}

/**
 * Returns the logger of one concern of the agent (`profiler`, `bpf`, `http`, ...).
 *
 * @param category The concern, used as the `category` field of each line.
 * @returns A LogTape logger; pass structured fields as the second argument.
 */
export function getLogger(category: string): Logger {
  return getLogTapeLogger(["agent", category]);
}
