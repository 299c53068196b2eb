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

/** CPU time of a process and every live descendant (nginx's workers, a balancer's cluster workers), in ms. */
export function treeCpuMs(rootPid) {
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
  let total = 0;
  for (const pid of inTree) {
    try {
      total += cpuMs(pid);
    } catch {
      // exited while we looked
    }
  }
  return total;
}
