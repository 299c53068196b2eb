import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startFleet } from './support/fleet.js';
import { http } from './support/http.js';
import { useProcesses } from './support/process.js';
import { queryUses, withoutGrafanaVariables, type QueryUses } from './support/promql.js';
import { describeWithRedis } from './support/redis.js';
import { waitFor } from './support/wait.js';
import { TestSocket } from './support/ws.js';

/**
 * The operator's pack is tested like code: the alert rules with promtool (syntax and unit tests
 * with series that fire and that do not), the dashboard's shape and queries, and every metric
 * and label the two use against what a real fleet exposes.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const RULES = `${root}/deploy/prometheus/alerts.yml`;
const RULE_TESTS = `${root}/deploy/prometheus/alerts.test.yml`;
const DASHBOARD = `${root}/deploy/grafana/ballast.json`;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}
const ruleGroups = (parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = ruleGroups.flatMap((group) => group.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
};
const dashboardQueries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => withoutGrafanaVariables(target.expr)));
/** `label_values(metric, label)` of the dashboard's variables. */
const variableUses = dashboard.templating.list
  .filter((variable) => variable.type === 'query')
  .map((variable) => {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const [, metric, label] = /^label_values\((\w+),\s*(\w+)\)$/.exec(query) ?? [];
    return { metric, label };
  });

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  // Not installed is a failure, not a skip: .ci/run installs Debian's prometheus package for it.
  if (run.error) throw new Error(`promtool: ${run.error.message} (apt-get install prometheus)`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', RULES);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(status).toBe(0);
  });

  it("pass their unit tests (promtool test rules): each fires on its series and not on the others'", () => {
    const { status, output } = promtool('test', 'rules', RULE_TESTS);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
    // Every alert is exercised by at least one test case.
    const tested = new Set([...readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((match) => match[1]));
    expect([...tested].sort()).toEqual(rules.map((rule) => rule.alert).sort());
  });

  it('each has a severity, a summary and a runbook section that exists in docs/operations.md', () => {
    const operations = readFileSync(`${root}/docs/operations.md`, 'utf8');
    for (const rule of rules) {
      expect(['page', 'ticket']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
      expect(rule.annotations.runbook).toBe(`docs/operations.md#alert-${rule.alert.toLowerCase()}`);
      expect(operations).toContain(`<a id="alert-${rule.alert.toLowerCase()}"></a>`);
    }
  });
});

describe('Grafana dashboard', () => {
  it('has unique panel ids, a Prometheus datasource variable on every query, and panels that do not overlap', () => {
    expect(dashboard.uid).toBe('ballast-fleet');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((variable) => variable.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      if (panel.type !== 'row') expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      const { x, y, w, h } = panel.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row += 1) {
        for (let column = x; column < x + w; column += 1) {
          const cell = `${row}:${column}`;
          expect(cells.has(cell) ? `${panel.title} overlaps at ${cell}` : 'free').toBe('free');
          cells.add(cell);
        }
      }
    }
  });

  it('shows what an operator watches: balancer, backends, admission, services, tasks, WebSockets, hedging', () => {
    const metrics = new Set(dashboardQueries.flatMap((expr) => queryUses(expr).selectors.map((use) => use.metric)));
    for (const family of [
      'ballast_balancer_requests_total',
      'ballast_balancer_upstream_duration_seconds_bucket',
      'ballast_balancer_backend_ejected',
      'ballast_balancer_queue_length',
      'ballast_balancer_rejected_total',
      'http_request_duration_seconds_count',
      'ballast_ready',
      'ballast_cooldown',
      'ballast_tasks',
      'ballast_task_wait_seconds_bucket',
      'ballast_ws_connections',
      'ballast_smart_attempts_total',
      'ballast_smart_budget_tokens',
    ])
      expect(metrics).toContain(family);
  });
});

/** Labels Prometheus adds from the target (never in /metrics), and `le` on histogram buckets. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint']);

/** Metric name -> every label name seen on it, from Prometheus text exposition. */
function exposed(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!match) continue;
    const labels = metrics.get(match[1]) ?? new Set<string>();
    for (const [, name] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(name);
    metrics.set(match[1], labels);
  }
  return metrics;
}

describeWithRedis('the metrics the dashboard and the alerts use', (redis) => {
  const processes = useProcesses();

  it('are all in a fleet’s /metrics, with the labels the queries match and group by', async () => {
    const fleet = await startFleet(processes, {
      services: 2,
      redis: redis(),
      // Hedged calls go to the service's own simulator, which answers at once.
      serviceEnv: (_index, port) => ({
        SMART_UPSTREAM_URL: `http://127.0.0.1:${port}/api/work`,
        WORK_MIN_MS: '0',
        WORK_MAX_MS: '1',
        WORK_HANG_RATE: '0',
        WORK_ERROR_RATE: '0',
        WORK_INVALID_RATE: '0',
        TASK_DEFAULT_DURATION_MS: '50',
      }),
      balancerEnv: { BALANCER_CLIENT_KEY: 'header:x-client', BALANCER_CLIENT_CONCURRENCY: '1' },
    });
    const base = fleet.balancer.baseUrl;
    // Traffic that makes every labelled series appear: reads, a hedged call, a task, a tunnel, a rejection.
    for (let i = 0; i < 4; i += 1) expect((await http(`${base}/ping`)).status).toBe(200);
    expect((await http(`${base}/api/smart?timeout=1000`)).status).toBe(200);
    const task = await http<{ id: string }>(`${base}/tasks`, { method: 'POST', json: { durationMs: 50 } });
    expect(task.status).toBe(202);
    await waitFor(async () => ((await http(`${base}/tasks/${task.body.id}`)).body.status === 'completed' ? true : undefined));
    const socket = await TestSocket.open(fleet.ws());
    const limited = await Promise.all([1, 2].map(() => http(`${base}/long_task?ms=200`, { headers: { 'x-client': 'one' } })));
    expect(limited.map((r) => r.status).sort()).toEqual([200, 429]);

    const scrapes = await Promise.all([http(`${base}/_balancer/metrics`), ...fleet.urls.map((url) => http(`${url}/metrics`))]);
    socket.close();
    const metrics = new Map<string, Set<string>>();
    for (const scrape of scrapes) {
      expect(scrape.status).toBe(200);
      for (const [name, labels] of exposed(scrape.text)) metrics.set(name, new Set([...(metrics.get(name) ?? []), ...labels]));
    }

    const uses: { source: string; uses: QueryUses }[] = [
      ...rules.map((rule) => ({ source: `alert ${rule.alert}`, uses: queryUses(rule.expr) })),
      ...dashboardQueries.map((expr) => ({ source: `dashboard: ${expr}`, uses: queryUses(expr) })),
    ];
    const problems: string[] = [];
    for (const { source, uses: used } of uses) {
      for (const { metric, labels } of used.selectors) {
        const exposedLabels = metrics.get(metric);
        if (!exposedLabels) {
          problems.push(`${source}: no metric ${metric}`);
          continue;
        }
        for (const label of labels)
          if (!TARGET_LABELS.has(label) && !exposedLabels.has(label)) problems.push(`${source}: ${metric} has no label ${label}`);
      }
      for (const { labels, metrics: under } of used.groupings) {
        for (const label of labels) {
          if (TARGET_LABELS.has(label)) continue;
          if (!under.some((metric) => metrics.get(metric)?.has(label)))
            problems.push(`${source}: none of ${under.join(', ')} has label ${label}`);
        }
      }
    }
    for (const { metric, label } of variableUses) {
      if (!metrics.has(metric)) problems.push(`dashboard variable: no metric ${metric}`);
      else if (!TARGET_LABELS.has(label) && !metrics.get(metric)!.has(label))
        problems.push(`dashboard variable: ${metric} has no label ${label}`);
    }
    expect(problems).toEqual([]);
    expect(uses.reduce((sum, { uses: used }) => sum + used.selectors.length, 0)).toBeGreaterThan(50);
  });
});
