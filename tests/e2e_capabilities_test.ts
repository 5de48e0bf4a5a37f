// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root: the capability list of docs/deployment.md (and deploy/), confirmed by
// running the agent with exactly that bounding set (setpriv) and then with each capability
// dropped in turn. The profiled program belongs to another user, lives in a directory only that
// user may enter, and a second one runs from a binary deleted after its start, so every
// capability has something to do. With the list, the agent profiles both programs with their
// DWARF tables and names kernel frames; without one, the step that needs it fails in the way the
// table in the docs says (the agent's own words, read from its log: no waiting for an absence).

import { deepStrictEqual, match } from "node:assert/strict";
import { type RunningAgent, startAgent } from "./_lib/agent.ts";
import { buildProgram, killAll } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_capabilities_test: ignored, it needs root to load BPF programs");
}

/** The documented list (docs/deployment.md, deploy/kubernetes, deploy/systemd), less
 * SYS_RESOURCE, which only `--memlock-rlimit` on kernels before 5.11 uses and which this
 * machine's root itself lacks. */
const LIST = ["bpf", "perfmon", "checkpoint_restore", "sys_ptrace", "dac_read_search", "syslog"];
const NOBODY = 65534;

// Who sees kernel addresses in /proc/kallsyms (kernel/kallsyms.c, kallsyms_show_value): with
// kptr_restrict 0 everyone when perf_event_paranoid <= 1, else CAP_SYSLOG; with 1 CAP_SYSLOG;
// with 2 no one.
const sysctl = (name: string) => Number(Deno.readTextFileSync(`/proc/sys/kernel/${name}`));
const KPTR = ignore ? 0 : sysctl("kptr_restrict");
const PARANOID = ignore ? 0 : sysctl("perf_event_paranoid");
const KERNEL_NAMES_WITH_SYSLOG = KPTR <= 1;
const KERNEL_NAMES_WITHOUT_SYSLOG = KPTR === 0 && PARANOID <= 1;

function run(cmd: string, args: string[]): void {
  const out = new Deno.Command(cmd, { args, stderr: "piped" }).outputSync();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Starts the agent with exactly `caps` in its bounding set (root keeps no other capability). */
function agentWith(caps: string[]): Promise<RunningAgent> {
  return startAgent(["--profiling-duration=1s", "--log-level=debug"], 30_000, [
    "setpriv",
    `--bounding-set=-all,${caps.map((c) => `+${c}`).join(",")}`,
    "--",
  ]);
}

async function until(what: string, agent: RunningAgent, done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 600) throw new Error(`timed out waiting for ${what}; agent log:\n${agent.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Whether the agent built the unwind table of `name` ("built"), or why it could not read the
 * file (the error of its debug line), or undefined while it has said neither.
 */
function tableOutcome(log: string, name: string): string | undefined {
  for (const line of log.split("\n")) {
    if (!line.includes(`/${name}`)) continue;
    if (line.includes('msg="built unwind table"')) return "built";
    const error = /error="(.*)"$/.exec(line)?.[1];
    if (error && /Cannot find mapped file|Cannot open/.test(error)) return error;
  }
  return undefined;
}

Deno.test({
  name: "the documented capabilities are enough, and each one is needed for what the docs say",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "e2e_caps_" });
    const children: Deno.ChildProcess[] = [];
    try {
      // Only nobody may enter the directory and read the binaries.
      const home = `${dir}/home`;
      Deno.mkdirSync(home);
      for (const name of ["caps_chain", "caps_deleted"]) {
        await buildProgram("cpu_chain.c", `${home}/${name}`, ["-O2", "-fomit-frame-pointer"]);
        Deno.chmodSync(`${home}/${name}`, 0o500);
      }
      run("chown", ["-R", `${NOBODY}:${NOBODY}`, home]);
      Deno.chmodSync(home, 0o700);
      const asNobody = (name: string) =>
        new Deno.Command("setpriv", {
          args: [
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            "--clear-groups",
            `${home}/${name}`,
            "600",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
      children.push(asNobody("caps_chain"), asNobody("caps_deleted"));
      // Give exec a moment before the binary goes: only /proc/PID/map_files reaches it after.
      await new Promise((r) => setTimeout(r, 300));
      Deno.removeSync(`${home}/caps_deleted`);

      await t.step(
        "with the list: both programs profiled with tables, kernel frames named",
        async () => {
          const agent = await agentWith(LIST);
          try {
            const log = agent.stderr;
            await until(
              "both tables",
              agent,
              () =>
                tableOutcome(log(), "caps_chain") !== undefined &&
                tableOutcome(log(), "caps_deleted") !== undefined,
            );
            deepStrictEqual(
              [tableOutcome(log(), "caps_chain"), tableOutcome(log(), "caps_deleted")],
              ["built", "built"],
            );
            deepStrictEqual(
              !log().includes("kernel symbol addresses are hidden"),
              KERNEL_NAMES_WITH_SYSLOG,
              log(),
            );
            const pid = children[0].pid;
            const res = await fetch(
              `${agent.url}/query?query=${encodeURIComponent(`{pid="${pid}"}`)}`,
            );
            await res.body?.cancel();
            deepStrictEqual(res.status, 200);
          } finally {
            await agent.stop();
          }
        },
      );

      const without = (cap: string) => LIST.filter((c) => c !== cap);
      for (const cap of ["bpf", "perfmon"]) {
        await t.step(`without ${cap}: the agent refuses to start, in one line`, async () => {
          let message = "";
          try {
            const agent = await agentWith(without(cap));
            await agent.stop();
          } catch (e) {
            message = (e as Error).message;
          }
          match(message, /Cannot profile|Cannot load the BPF program|Cannot attach|not permitted/);
        });
      }

      await t.step("without sys_ptrace: other users' processes cannot be read", async () => {
        const agent = await agentWith(without("sys_ptrace"));
        try {
          await until("the refusal", agent, () => !!tableOutcome(agent.stderr(), "caps_chain"));
          match(tableOutcome(agent.stderr(), "caps_chain")!, /EACCES|EPERM|ermission denied/);
        } finally {
          await agent.stop();
        }
      });

      await t.step(
        "without dac_read_search: a binary only its owner may read stays closed",
        async () => {
          const agent = await agentWith(without("dac_read_search"));
          try {
            await until("the refusal", agent, () => !!tableOutcome(agent.stderr(), "caps_chain"));
            match(tableOutcome(agent.stderr(), "caps_chain")!, /EACCES|ermission denied/);
          } finally {
            await agent.stop();
          }
        },
      );

      await t.step("without checkpoint_restore: a deleted binary cannot be reached", async () => {
        const agent = await agentWith(without("checkpoint_restore"));
        try {
          await until("the refusal", agent, () => !!tableOutcome(agent.stderr(), "caps_deleted"));
          match(tableOutcome(agent.stderr(), "caps_deleted")!, /map_files.*EPERM|not permitted/);
          // The path of a file that is still there is the fallback, and works.
          await until("caps_chain", agent, () => !!tableOutcome(agent.stderr(), "caps_chain"));
          deepStrictEqual(tableOutcome(agent.stderr(), "caps_chain"), "built");
        } finally {
          await agent.stop();
        }
      });

      await t.step({
        name: "without syslog: kernel frames stay unnamed, said once at start",
        // Where everyone may read kernel addresses (or no one may), CAP_SYSLOG changes nothing.
        ignore: KERNEL_NAMES_WITHOUT_SYSLOG || !KERNEL_NAMES_WITH_SYSLOG,
        fn: async () => {
          const agent = await agentWith(without("syslog"));
          try {
            await until(
              "the warning",
              agent,
              () => agent.stderr().includes("kernel symbol addresses are hidden"),
            );
          } finally {
            await agent.stop();
          }
        },
      });

      await t.step("sys_admin stands in for bpf, perfmon and checkpoint_restore", async () => {
        const agent = await agentWith([
          ...LIST.filter((c) => !["bpf", "perfmon", "checkpoint_restore"].includes(c)),
          "sys_admin",
        ]);
        try {
          const log = agent.stderr;
          await until(
            "the deleted binary's table",
            agent,
            () => tableOutcome(log(), "caps_deleted") !== undefined,
          );
          deepStrictEqual(tableOutcome(log(), "caps_deleted"), "built");
        } finally {
          await agent.stop();
        }
      });
    } finally {
      await killAll(children);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
