// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { getLogger } from "../log/mod.ts";
import { SafeOpenError } from "../safefs/mod.ts";
import { DirectoryWatch } from "./_inotify.ts";
import { type AgentConfig, loadConfigFile, readConfigText } from "./config.ts";
import { labelMetrics } from "./metrics.ts";

const log = getLogger("config");

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/** Options of {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  /** The config file. */
  path: string;
  /** The config loaded at start (it must have been loaded from `path`). */
  initial: AgentConfig;
  /** Called with each new valid config, after the change has settled. */
  onReload: (config: AgentConfig) => void;
  /**
   * How long the directory must be quiet before the file is read: editors write a file in
   * several steps (truncate and write, or write a temporary file and rename it over).
   *
   * @default {200}
   */
  settleMs?: number;
}

/**
 * Records the outcome of a (re)load in the reload gauges.
 *
 * @param ok Whether the config in force is the one just read.
 */
export function recordReload(ok: boolean): void {
  labelMetrics.configLastReloadSuccessful.set(ok ? 1 : 0);
  if (ok) labelMetrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
}

/**
 * Watches the config file and applies it again when it changes.
 *
 * The directory is watched rather than the file, because editors and Kubernetes ConfigMaps
 * replace a file by renaming another one over it (a watch on the old inode would then see nothing
 * more) or swap a symlink beside it. When the path is a symlink, the directory of the file it
 * finally names is watched too (an edit there changes the config without any event beside the
 * link), and that second watch follows the link when it is swapped. Any event, once things have
 * been quiet for `settleMs`, makes the file be read again; an unchanged text is ignored. Reads
 * never block: a FIFO (or a device) swapped in at the path is refused like any unreadable file. A file that cannot be
 * read or is invalid leaves the previous config in force, logs the error and sets
 * `parca_agent_config_last_reload_successful` to 0; a later valid file sets it back to 1.
 *
 * @example
 * ```ts ignore
 * import { ConfigWatcher, loadConfigFile } from "./mod.ts";
 * const initial = await loadConfigFile("/etc/agent.yaml");
 * const watcher = ConfigWatcher.start({
 *   path: "/etc/agent.yaml",
 *   initial,
 *   onReload: (c) => console.log(`${c.relabelConfigs.length} rules`),
 * });
 * // ... later
 * watcher.close();
 * ```
 */
export class ConfigWatcher {
  readonly #opts: ConfigWatcherOptions;
  readonly #settleMs: number;
  #current: AgentConfig;
  /** The text last read, valid or not: the same text is not reported twice. */
  #lastText: string;
  #watcher: DirectoryWatch | undefined;
  #watched: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(opts: ConfigWatcherOptions) {
    this.#opts = opts;
    this.#settleMs = opts.settleMs ?? 200;
    this.#current = opts.initial;
    this.#lastText = opts.initial.text;
  }

  /**
   * Starts watching the directory of the config file.
   *
   * @param opts The file, the config already loaded from it, and the callback.
   * @returns The running watcher.
   * @throws {Error} When the directory cannot be watched (inotify).
   */
  static start(opts: ConfigWatcherOptions): ConfigWatcher {
    const w = new ConfigWatcher(opts);
    w.#watch();
    return w;
  }

  /** The directories to watch: the path's own, and that of the file it finally names. */
  #directories(): string[] {
    const dirs = [dirname(this.#opts.path)];
    try {
      const target = dirname(Deno.realPathSync(this.#opts.path));
      if (target !== dirs[0]) dirs.push(target);
    } catch {
      // Missing or a dangling link right now: the path's directory will see it come back.
    }
    return dirs;
  }

  /** (Re)starts the directory watch, when the directories to watch changed. */
  #watch(): void {
    const dirs = this.#directories();
    if (this.#watcher && dirs.join("\0") === this.#watched.join("\0")) return;
    this.#watcher?.close();
    this.#watcher = new DirectoryWatch(dirs, () => this.#schedule());
    this.#watched = dirs;
  }

  /** The config in force. */
  get current(): AgentConfig {
    return this.#current;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reloading = this.#reloading.then(async () => {
        await this.reload();
      });
    }, this.#settleMs);
  }

  /**
   * Reads the file now and applies it if it changed and is valid.
   *
   * @returns Whether the config in force is the file's current content.
   */
  async reload(): Promise<boolean> {
    if (!this.#closed && this.#watcher) this.#watch();
    let config: AgentConfig;
    try {
      try {
        config = await loadConfigFile(this.#opts.path);
      } catch (e) {
        // Between an editor's unlink and its rename the file does not exist: look once more.
        const cause = (e as Error).cause;
        if (!(cause instanceof SafeOpenError && cause.reason === "not-found")) throw e;
        await new Promise((r) => setTimeout(r, this.#settleMs));
        config = await loadConfigFile(this.#opts.path);
      }
    } catch (e) {
      const message = (e as Error).message;
      // Report a given broken text once, not on every event the editor causes.
      let text: string | undefined;
      try {
        text = readConfigText(this.#opts.path);
      } catch {
        text = undefined;
      }
      if (text === undefined || text !== this.#lastText) {
        log.error("config reload failed; keeping the previous config", { error: message });
      }
      if (text !== undefined) this.#lastText = text;
      recordReload(false);
      return false;
    }
    if (config.text === this.#lastText && config.text === this.#current.text) {
      recordReload(true);
      return true;
    }
    this.#lastText = config.text;
    this.#current = config;
    if (config.empty) log.warn("config file is empty", { path: this.#opts.path });
    recordReload(true);
    log.info("config reloaded", {
      path: this.#opts.path,
      relabelConfigs: config.relabelConfigs.length,
    });
    this.#opts.onReload(config);
    return true;
  }

  /** Stops watching; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#watcher?.close();
    await this.#reloading;
  }
}
