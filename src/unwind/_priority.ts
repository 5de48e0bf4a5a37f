// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Scheduling priorities (nice values) of the table-building worker threads.
 *
 * A build nobody waits for yet (a library of programs not sampled, found before they exec'd)
 * runs at {@link BACKGROUND_NICE}: it yields to the profiler and to the host's programs. A build a
 * sampled process waits for, or one for a program that just exec'd (it runs, and its first
 * samples should be whole: at nice 10 on a busy host its 21-row table took 0.75-1.5 s), runs at
 * {@link URGENT_NICE}, the priority of the programs around it:
 * at nice 10 a thread gets about a tenth of the CPU time of each nice-0 thread it competes with,
 * so on a host whose cores are all busy a 0.4 s build (the node binary's) took minutes while that
 * process's samples stayed pending.
 *
 * @module
 */

/** Nice value of a build nobody waits for. */
export const BACKGROUND_NICE = 10;
/** Nice value of a build a sampled process waits for. */
export const URGENT_NICE = 0;
