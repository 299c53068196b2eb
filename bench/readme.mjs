// npm run bench:readme — runs every comparison bench in turn (readiness, balancer, smart,
// tasks; about 15 minutes), shows their output as it comes, and rewrites the README's figures
// table (between the bench-figures markers) from the `summary:` line each one printed last,
// with the date, Node version and CPU of the run. BENCH_ONLY=balancer,tasks runs a subset and
// keeps the other rows as they were.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const BENCHES = ['readiness', 'balancer', 'smart', 'tasks'];
const README = fileURLToPath(new URL('../README.md', import.meta.url));
const START = '<!-- bench-figures:start (npm run bench:readme writes this table) -->';
const END = '<!-- bench-figures:end -->';
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());

async function run(name) {
  console.log(`\n### bench:${name}`);
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./${name}.mjs`, import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    process.stdout.write(chunk);
  });
  const [code] = await once(child, 'exit');
  const summary = /^summary: (.*)$/m.exec(out)?.[1];
  if (code !== 0 || !summary) throw new Error(`bench:${name} exited ${code}${summary ? '' : ' without a summary line'}`);
  return summary;
}

const readme = readFileSync(README, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
const previous = new Map(
  [...readme.slice(start, end).matchAll(/^\| (\w+) +\| (.*?) *\|$/gm)]
    .filter(([, name]) => BENCHES.includes(name))
    .map(([, name, text]) => [name, text]),
);
const rows = new Map();
for (const name of BENCHES) rows.set(name, !only || only.includes(name) ? await run(name) : (previous.get(name) ?? 'not run'));

const when = new Date().toISOString().slice(0, 10);
const table = [
  START,
  '',
  `Measured ${when} by \`npm run bench:readme\`${only ? ` (${only.join(', ')}; other rows from an earlier run)` : ''}: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.versions.node}. Compare the ratios: the absolute figures move with the machine.`,
  '',
  '| bench | figures |',
  '| --- | --- |',
  ...[...rows].map(([name, text]) => `| ${name} | ${text.replaceAll('|', '\\|')} |`),
  '',
  END,
].join('\n');
const updated = await prettier.format(readme.slice(0, start) + table + readme.slice(end + END.length), { filepath: README });
writeFileSync(README, updated);
console.log(`\nREADME.md figures updated (${[...rows.keys()].join(', ')})`);
