// CPU time from /proc (Linux): what a benchmark row cost each process, so a throughput gap is
// explained by measurement (who spent the machine's cores), not by a guess.
import { readdirSync, readFileSync } from 'node:fs';

function stat(pid) {
  // The command name may hold spaces and parentheses: fields start after the last ') '.
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
}

/** CPU time (user + system) a process has used, in ms (10 ms ticks). */
export function cpuMs(pid) {
  const fields = stat(pid);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Time a process's main thread (its event loop) spent runnable but waiting for a core, in ms
 * (/proc/PID/schedstat, second field, ns): how much the machine's other processes delayed it.
 * CPU time says who used the cores; this says who waited for them, which is what a latency
 * tail on a shared machine is made of.
 */
export function runQueueWaitMs(pid) {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
}

/** The process and its live descendants (nginx's workers, a balancer's cluster workers). */
function processTree(rootPid) {
  const parentOf = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parentOf.set(Number(entry), Number(stat(entry)[1]));
    } catch {
      // exited while we looked
    }
  }
  const inTree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, parent] of parentOf) {
      if (!inTree.has(pid) && inTree.has(parent)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  return inTree;
}

/** `measure` summed over a process and every live descendant. */
function treeSum(rootPid, measure) {
  let total = 0;
  for (const pid of processTree(rootPid)) {
    try {
      total += measure(pid);
    } catch {
      // exited while we looked
    }
  }
  return total;
}

/** CPU time of a process and every live descendant, in ms. */
export const treeCpuMs = (rootPid) => treeSum(rootPid, cpuMs);

/** Run-queue wait of the main threads of a process and every live descendant, in ms. */
export const treeRunQueueWaitMs = (rootPid) => treeSum(rootPid, runQueueWaitMs);

/**
 * Connections the kernel dropped machine-wide because a listen queue was full
 * (/proc/net/netstat, TcpExt ListenOverflows). The client retries such a SYN after 1 s, then 3 s,
 * so a latency of seconds with this count rising is the listen queue's doing, not a queue's.
 */
export function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const header = lines.findIndex((line) => line.startsWith('TcpExt:'));
  const names = lines[header].split(/\s+/);
  const values = lines[header + 1].split(/\s+/);
  return Number(values[names.indexOf('ListenOverflows')]);
}
