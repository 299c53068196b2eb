// Writes k8s/components/monitoring/prometheus-rule.yaml from deploy/prometheus/alerts.yml, so the
// rules exist once: `npm run k8s:rules` after editing alerts.yml (test/deploy.e2e-spec.ts fails
// while the two differ).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const { groups } = parse(readFileSync(`${root}/deploy/prometheus/alerts.yml`, 'utf8'));
const rule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'ballast',
    labels: { 'app.kubernetes.io/name': 'ballast' },
  },
  spec: { groups },
};
const header = '# Generated from deploy/prometheus/alerts.yml by `npm run k8s:rules`; edit that file, not this one.\n';
writeFileSync(`${root}/k8s/components/monitoring/prometheus-rule.yaml`, header + stringify(rule, { lineWidth: 0 }));
