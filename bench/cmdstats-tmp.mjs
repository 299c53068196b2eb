import { execFileSync } from 'node:child_process';
import { startService } from './lib/harness.mjs';
import { runTasks } from './lib/tasks-load.mjs';
const stats = () => Object.fromEntries(execFileSync('redis-cli', ['info', 'commandstats']).toString().split('\n').filter((l) => l.startsWith('cmdstat_')).map((l) => { const [k, v] = l.split(':'); return [k.slice(8), { calls: +v.match(/calls=(\d+)/)[1], usec: +v.match(/usec=(\d+)/)[1] }]; }));
const svc = await startService({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: 'cmdstat-' + process.pid });
await runTasks(svc.url, { tasks: 300, inFlight: 50 });
const N = 2000;
const before = stats();
await runTasks(svc.url, { tasks: N, inFlight: 50 });
const after = stats();
let calls = 0, usec = 0;
for (const [k, v] of Object.entries(after)) { const c = v.calls - (before[k]?.calls ?? 0), u = v.usec - (before[k]?.usec ?? 0); if (c > 0) { calls += c; usec += u; console.log(k.padEnd(20), (c / N).toFixed(2), 'calls/task', (u / N).toFixed(1), 'µs/task'); } }
console.log('TOTAL', (calls / N).toFixed(2), 'calls/task', (usec / N).toFixed(1), 'µs/task in redis');
await svc.stop();
