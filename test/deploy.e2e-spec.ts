import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { envSchema } from '../src/config/config.schema.js';
import { loadConfig } from '../src/config/load-config.js';
import { startApp } from './support/app.js';
import { http } from './support/http.js';
import { useProcesses } from './support/process.js';

/**
 * The deployment files agree with the code: every object is valid Kubernetes, every probe
 * path and port is served by the app, every env name is one the config knows, the grace
 * arithmetic holds, and compose and k8s agree. Editing either side alone fails here.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };
const manifests: { file: string; object: K8sObject }[] = readdirSync(`${root}/k8s`)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .flatMap((file) => parseAllDocuments(read(`k8s/${file}`)).map((doc) => ({ file, object: doc.toJS() as K8sObject })));
const byKind = (kind: string) => manifests.map((m) => m.object).filter((o) => o.kind === kind);
const deployment = (name: string) => byKind('Deployment').find((d) => d.metadata.name === name)!;
const configMap = byKind('ConfigMap').find((c) => c.metadata.name === 'ballast-config')!;
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any>; volumes?: Record<string, unknown> };
const knownEnv = new Set(Object.keys(envSchema.shape));

/** A container's effective environment: its env entries over the ConfigMaps it loads. */
function containerEnv(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const cm = byKind('ConfigMap').find((c) => c.metadata.name === source.configMapRef?.name);
    Object.assign(env, cm?.data ?? {});
  }
  for (const entry of container.env ?? []) env[entry.name] = entry.value;
  return env;
}
const appContainers = ['ballast-service', 'ballast-balancer'].map((name) => ({
  name,
  spec: deployment(name).spec.template.spec,
  container: deployment(name).spec.template.spec.containers[0],
}));

describe('k8s manifests', () => {
  it('are listed in kustomization.yaml, all of them', () => {
    const listed = (parse(read('k8s/kustomization.yaml')) as { resources: string[] }).resources.sort();
    expect(listed).toEqual([...new Set(manifests.map((m) => m.file))].sort());
  });

  it.each(manifests.map((m): [string, K8sObject] => [`${m.file}: ${m.object.kind}/${m.object.metadata.name}`, m.object]))(
    'validates against the Kubernetes schema: %s',
    async (_name, object) => {
      const models = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, new (o: unknown) => { validate(): void }>;
      const Model = models[object.kind];
      expect(Model).toBeDefined();
      expect(() => new Model(object).validate()).not.toThrow();
    },
  );

  it('use only env names the config schema knows', () => {
    const names = [
      ...Object.keys(configMap.data),
      ...appContainers.flatMap(({ container }) => (container.env ?? []).map((e: { name: string }) => e.name)),
    ];
    expect(names.filter((name) => !knownEnv.has(name))).toEqual([]);
  });

  it('hold the grace arithmetic: delay covers the readiness period, termination grace covers the shutdown', () => {
    for (const { name, spec, container } of appContainers) {
      const env = containerEnv(container);
      const delayMs = Number(env.SHUTDOWN_DELAY_MS ?? 0);
      const graceMs = Number(env.SHUTDOWN_GRACE_MS);
      const probe = container.readinessProbe;
      const preStopSeconds = Number(container.lifecycle?.preStop?.sleep?.seconds ?? 0);
      const readinessWindowMs = probe.periodSeconds * (probe.failureThreshold ?? 3) * 1000;
      expect({ name, delayCoversReadiness: delayMs + preStopSeconds * 1000 >= readinessWindowMs }).toEqual({
        name,
        delayCoversReadiness: true,
      });
      expect({ name, delayInsideGrace: delayMs < graceMs }).toEqual({ name, delayInsideGrace: true });
      expect({ name, terminationCoversShutdown: spec.terminationGracePeriodSeconds > preStopSeconds + graceMs / 1000 }).toEqual({
        name,
        terminationCoversShutdown: true,
      });
    }
  });

  it('run Redis durable: AOF fsynced every second on a persistent volume, noeviction', () => {
    const redis = byKind('StatefulSet').find((s) => s.metadata.name === 'ballast-redis')!;
    const container = redis.spec.template.spec.containers[0];
    expect(durabilityArgs(container.args)).toEqual({ appendonly: 'yes', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' });
    const dataMount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/data');
    expect(redis.spec.volumeClaimTemplates.map((t: K8sObject) => t.metadata.name)).toContain(dataMount.name);
    expect(redis.spec.template.spec.volumes ?? []).toEqual([]); // no emptyDir shadowing the claim
  });

  it('roll the service without losing capacity, as non-root with a read-only root', () => {
    const service = deployment('ballast-service');
    expect(service.spec.replicas).toBeGreaterThanOrEqual(3);
    expect(service.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    for (const { spec, container } of appContainers) {
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(container.resources.requests.cpu).toBeDefined();
      expect(container.startupProbe).toBeDefined();
    }
    expect(containerEnv(deployment('ballast-balancer').spec.template.spec.containers[0]).BACKENDS_DNS).toBe(
      `${byKind('Service').find((s) => s.spec.clusterIP === 'None')!.metadata.name}:8000`,
    );
  });
});

describe('k8s redis-sentinel component (the Bitnami chart with sentinel.enabled)', () => {
  const dir = 'k8s/components/redis-sentinel';
  const component = parse(read(`${dir}/kustomization.yaml`)) as {
    kind: string;
    patches: { path: string; target?: { kind: string; name: string } }[];
  };
  const patches = component.patches.map((entry) => ({ ...entry, body: parse(read(`${dir}/${entry.path}`)) }));

  it('is a kustomize Component listing every file beside it, outside the base', () => {
    expect(component.kind).toBe('Component');
    expect(component.patches.map((entry) => entry.path).sort()).toEqual(
      readdirSync(`${root}/${dir}`)
        .filter((file) => file !== 'kustomization.yaml')
        .sort(),
    );
  });

  it('turns the base config into Sentinel mode: REDIS_URL removed, the chart’s sentinel Service and master set, one replica per create', () => {
    const configPatch = patches.find((entry) => entry.body.kind === 'ConfigMap')!.body;
    expect(configPatch.metadata.name).toBe(configMap.metadata.name);
    // Strategic merge: a null removes the base's key.
    const merged = Object.fromEntries(
      Object.entries({ ...configMap.data, ...configPatch.data }).filter(([, value]) => value !== null),
    ) as Record<string, string>;
    const config = loadConfig({ ...merged, REDIS_PASSWORD: 'from-the-secret', REDIS_SENTINEL_PASSWORD: 'from-the-secret' });
    expect(config.redis).toMatchObject({
      endpoint: { mode: 'sentinel', sentinels: [{ host: 'redis', port: 26379 }], name: 'mymaster', password: 'from-the-secret' },
      minReplicasAck: 1,
    });
  });

  it('gives the service the chart’s password for the data nodes and the sentinels, from its Secret', () => {
    const credentials = patches.find((entry) => entry.target?.kind === 'Deployment')!;
    expect(credentials.target!.name).toBe('ballast-service');
    const added = (credentials.body as { op: string; path: string; value: { name: string; valueFrom: any } }[]).map((op) => {
      expect(op).toMatchObject({ op: 'add', path: '/spec/template/spec/containers/0/env/-' });
      return op.value;
    });
    expect(added.map((env) => env.name).sort()).toEqual(['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']);
    for (const env of added) {
      expect(knownEnv.has(env.name)).toBe(true);
      expect(env.valueFrom).toEqual({ secretKeyRef: { name: 'redis', key: 'redis-password' } });
    }
    expect(deployment('ballast-service').spec.template.spec.containers[0].env).toBeInstanceOf(Array);
  });

  it('removes the base’s demo Redis, by the names the base gives it', () => {
    const deleted = patches
      .filter((entry) => entry.body.$patch === 'delete')
      .map((entry) => `${entry.body.kind}/${entry.body.metadata.name}`);
    const demo = manifests.filter((m) => m.file === 'redis-demo.yaml').map((m) => `${m.object.kind}/${m.object.metadata.name}`);
    expect(deleted.sort()).toEqual(demo.sort());
  });
});

describe('k8s monitoring component (Prometheus Operator)', () => {
  const dir = 'k8s/components/monitoring';
  const component = parse(read(`${dir}/kustomization.yaml`)) as { apiVersion: string; kind: string; resources: string[] };
  const objects = component.resources.flatMap((file) => parseAllDocuments(read(`${dir}/${file}`)).map((doc) => doc.toJS() as K8sObject));

  it('is a kustomize Component, outside the base, listing its files', () => {
    expect(component).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component' });
    expect(component.resources.sort()).toEqual(
      readdirSync(`${root}/${dir}`)
        .filter((file) => file !== 'kustomization.yaml')
        .sort(),
    );
    expect((parse(read('k8s/kustomization.yaml')) as { resources: string[] }).resources.some((entry) => entry.includes('components'))).toBe(
      false,
    );
  });

  it.each(objects.map((object): [string, K8sObject] => [`${object.kind}/${object.metadata.name}`, object]))(
    'validates against the Prometheus Operator schema: %s',
    async (_name, object) => {
      const models = (await import(`@kubernetes-models/prometheus-operator/${object.apiVersion}`)) as Record<
        string,
        new (o: unknown) => { validate(): void }
      >;
      expect(models[object.kind]).toBeDefined();
      expect(() => new models[object.kind](object).validate()).not.toThrow();
    },
  );

  it('scrapes each role where it serves metrics, by its pods labels and named port, with the admin token', () => {
    const monitors = objects.filter((object) => object.kind === 'PodMonitor');
    expect(monitors).toHaveLength(2);
    for (const { name, spec, container } of appContainers) {
      const podLabels = spec.template?.metadata?.labels ?? deployment(name).spec.template.metadata.labels;
      const monitor = monitors.find((m) => Object.entries(m.spec.selector.matchLabels).every(([key, value]) => podLabels[key] === value))!;
      expect(monitor).toBeDefined();
      const [endpoint] = monitor.spec.podMetricsEndpoints;
      expect(container.ports.map((port: { name: string }) => port.name)).toContain(endpoint.port);
      expect(endpoint.path).toBe(name === 'ballast-balancer' ? '/_balancer/metrics' : '/metrics');
      const tokenRef = container.env.find((e: { name: string }) => e.name === 'ADMIN_TOKEN').valueFrom.secretKeyRef;
      expect(endpoint.authorization).toEqual({ type: 'Bearer', credentials: tokenRef });
    }
  });

  it('ships exactly the rules of deploy/prometheus/alerts.yml (npm run k8s:rules regenerates them)', () => {
    const rule = objects.find((object) => object.kind === 'PrometheusRule')!;
    expect(rule.spec.groups).toEqual((parse(read('deploy/prometheus/alerts.yml')) as { groups: unknown }).groups);
  });
});

describe('ADMIN_TOKEN', () => {
  it('comes from the ballast-admin Secret in both k8s deployments', () => {
    for (const { container } of appContainers) {
      const entry = container.env.find((e: { name: string }) => e.name === 'ADMIN_TOKEN');
      expect(entry).toEqual({ name: 'ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'ballast-admin', key: 'token' } } });
    }
  });

  it('comes from .env (compose substitution) for every ballast container in compose', () => {
    const appServices = Object.values(compose.services).filter((s) => s.image === 'ballast:latest');
    expect(appServices.length).toBeGreaterThanOrEqual(5);
    for (const s of appServices) expect(s.environment.ADMIN_TOKEN).toBe('${ADMIN_TOKEN:-}');
  });
});

describe('probe paths and ports are served by the app', () => {
  it.each(appContainers.map((c): [string, any] => [c.name, c.container]))('%s', async (_name, container) => {
    const env = containerEnv(container);
    const app = await startApp({
      ...env,
      REDIS_URL: undefined,
      BACKENDS_DNS: undefined,
      BACKENDS: env.BACKENDS_DNS ? 'http://127.0.0.1:1' : undefined,
      HEALTH_CHECK_INTERVAL_MS: '0',
      // Probes must answer without it: kubelet sends no credentials.
      ADMIN_TOKEN: 'probe-test-admin-token-0123456789',
    });
    try {
      const port = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;
      expect(app.config.http.port).toBe(port); // PORT (or the role's default) is the declared containerPort
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        expect(container[probe].httpGet.port).toBe('http');
        const response = await http(`${app.baseUrl}${container[probe].httpGet.path}`);
        expect({ probe, status: response.status }).toEqual({ probe, status: 200 });
      }
    } finally {
      await app.close();
    }
  });
});

describe('docker-compose.yml', () => {
  const services = compose.services;
  const appServices = Object.entries(services).filter(([, s]) => s.image === 'ballast:latest');

  it('runs 4 services and a balancer in front of them on 8080, on the same ports as k8s', () => {
    const roles = appServices.map(([, s]) => s.environment.ROLE);
    expect(roles.filter((r) => r === 'service')).toHaveLength(4);
    expect(roles.filter((r) => r === 'balancer')).toHaveLength(1);
    const balancer = appServices.find(([, s]) => s.environment.ROLE === 'balancer')![1];
    const k8sPort = (name: string) => deployment(name).spec.template.spec.containers[0].ports[0].containerPort;
    expect(balancer.ports).toEqual([`${k8sPort('ballast-balancer')}:${k8sPort('ballast-balancer')}`]);
    const backends = balancer.environment.BACKENDS.split(',');
    expect(backends.sort()).toEqual(
      appServices
        .filter(([, s]) => s.environment.ROLE === 'service')
        .map(([name, s]) => `http://${name}:${s.environment.PORT}`)
        .sort(),
    );
    for (const [, s] of appServices.filter(([, x]) => x.environment.ROLE === 'service')) {
      expect(Number(s.environment.PORT)).toBe(k8sPort('ballast-service'));
    }
  });

  it('uses only known env names, traces to zipkin, and stops slower than the app drains', () => {
    for (const [, s] of appServices) {
      expect(Object.keys(s.environment).filter((name) => !knownEnv.has(name))).toEqual([]);
      expect(s.environment.OTEL_EXPORTER_ZIPKIN_ENDPOINT).toMatch(/^http:\/\/zipkin:9411\//);
      expect(parseSeconds(s.stop_grace_period) * 1000).toBeGreaterThan(Number(s.environment.SHUTDOWN_GRACE_MS));
      expect(s.healthcheck.test.join(' ')).toContain(s.environment.ROLE === 'balancer' ? '/_balancer/live' : '/live');
    }
    expect(services.redis.healthcheck).toBeDefined();
    expect(services.zipkin).toBeDefined();
  });

  // Without the binary this test is reported as skipped (never as passed), with a loud line;
  // under CI=true a missing binary fails the run instead (.ci/run installs it).
  it('runs Redis durable: AOF fsynced every second on a named volume, noeviction', () => {
    const redis = services.redis;
    expect(durabilityArgs(redis.command)).toEqual({ appendonly: 'yes', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' });
    const [volume, path] = (redis.volumes as string[])[0].split(':');
    expect(path).toBe('/data');
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  const sentinelRole = (service: any) => (service.entrypoint ?? []).join(' ').includes('--sentinel');

  it('has a sentinel profile: two replicas of redis that keep their offset (RDB) and three sentinels monitoring it with a majority quorum', () => {
    const replicas = Object.entries(services).filter(([name]) => name.startsWith('redis-replica-'));
    const sentinels = Object.entries(services).filter(([, service]) => sentinelRole(service));
    expect(replicas).toHaveLength(2);
    expect(sentinels).toHaveLength(3);
    for (const [name, replica] of replicas) {
      expect(replica.profiles).toEqual(['sentinel']);
      const args = replica.command as string[];
      expect(args.slice(args.indexOf('--replicaof'), args.indexOf('--replicaof') + 3)).toEqual(['--replicaof', 'redis', '6379']);
      expect(args[args.indexOf('--replica-announce-ip') + 1]).toBe(name);
      // RDB, not AOF: only an RDB keeps a replica's replication offset across a restart, which
      // the sentinels need to promote the replica that is ahead (chaos:failover, forced loss).
      expect(durabilityArgs(args)).toEqual({ appendonly: 'no', save: '3600 1 300 100 60 10000', 'maxmemory-policy': 'noeviction' });
    }
    for (const [, sentinel] of sentinels) {
      expect(sentinel.profiles).toEqual(['sentinel']);
      const [, name, host, port, quorum] = /sentinel monitor (\S+) (\S+) (\d+) (\d+)/.exec(sentinel.entrypoint.join(' '))!;
      expect([name, host, port]).toEqual(['ballast', 'redis', '6379']);
      expect(Number(quorum)).toBeGreaterThan(sentinels.length / 2);
    }
    expect(services.redis.profiles).toBeUndefined();
  });

  it('compose/sentinel.env points every service at those sentinels and their master name, and nothing else', () => {
    const file = Object.fromEntries(
      read('compose/sentinel.env')
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    ) as Record<string, string>;
    expect(file.COMPOSE_PROFILES).toBe('sentinel');
    const sentinelServices = Object.entries(services)
      .filter(([, service]) => sentinelRole(service))
      .map(([name]) => `${name}:26379`);
    expect(file.REDIS_SENTINELS.split(',').sort()).toEqual(sentinelServices.sort());
    // What the services' ${...} substitutions give with this file: Sentinel mode, no REDIS_URL.
    const { COMPOSE_PROFILES: _profiles, ...variables } = file;
    const config = loadConfig({ ...variables, ROLE: 'service' });
    expect(config.redis?.endpoint).toMatchObject({ mode: 'sentinel', name: 'ballast' });
    const serviceEnv = appServices.find(([, s]) => s.environment.ROLE === 'service')![1].environment;
    for (const name of Object.keys(variables)) expect(serviceEnv[name]).toMatch(new RegExp(`^\\$\\{${name}[-:]`));
  });

  const composeCli = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  if (!composeCli && process.env.CI !== 'true') {
    process.stderr.write('\n!!! docker-compose not installed: `docker-compose config` test SKIPPED (apt-get install docker-compose) !!!\n');
  }
  const itWithCompose = composeCli || process.env.CI === 'true' ? it : it.skip;
  itWithCompose('passes `docker-compose config`, with and without the sentinel profile (installed by .ci/run; required in CI)', () => {
    if (!composeCli) throw new Error('docker-compose is not installed; .ci/run should have installed it');
    for (const envFile of [[], ['--env-file', `${root}/compose/sentinel.env`]]) {
      const result = spawnSync('docker-compose', [...envFile, '-f', `${root}/docker-compose.yml`, 'config', '-q'], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];

  it('builds in one stage and runs production dependencies as a non-root user in another, with a healthcheck', () => {
    expect(dockerfile.match(/^FROM node:\d+-[a-z]+-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/live/m);
    expect(cmd[0]).toBe('node'); // node is PID 1: no shell to swallow SIGTERM
  });

  const processes = useProcesses();

  it('ships no test code: nothing in dist/ is a spec or imports jest', () => {
    const files = readdirSync(`${root}/dist`, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'));
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((file) => /\.(spec|contract)\.js$/.test(file))).toEqual([]);
    expect(files.filter((file) => /@jest\/globals|from 'jest'/.test(read(`dist/${file}`)))).toEqual([]);
  });

  it('its entry command shuts down gracefully on SIGTERM and exits 0', async () => {
    // The image's entry command, from the repository root as the image's WORKDIR.
    const service = await processes.start({}, { command: cmd, cwd: root });
    service.kill('SIGTERM');
    expect(await service.exited()).toEqual({ code: 0, signal: null });
    expect(service.lines.some((line) => /SIGTERM received: no longer accepting new work/.test(line))).toBe(true);
    expect(service.lines.some((line) => /shutdown complete/.test(line))).toBe(true);
  });
});

/** The durability flags among redis-server arguments (`--name value` pairs). */
function durabilityArgs(args: string[]): Record<string, string> {
  const wanted = ['appendonly', 'appendfsync', 'save', 'maxmemory-policy'];
  const found: Record<string, string> = {};
  args.forEach((arg, i) => {
    if (arg.startsWith('--') && wanted.includes(arg.slice(2))) found[arg.slice(2)] = args[i + 1];
  });
  return found;
}

function parseSeconds(value: string): number {
  const match = /^(\d+)(s|m)$/.exec(value);
  if (!match) throw new Error(`unreadable duration ${value}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}
