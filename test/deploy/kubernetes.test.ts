import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.ts';
import { ROLES } from '../../src/main.ts';
import { ROOT } from '../helpers/cli.ts';
import { validateObject } from '../helpers/kubernetes-schema.ts';
import { type K8sObject, kustomize, podContainers, podSpec, readYamlObjects } from '../helpers/kustomize.ts';

/**
 * deploy/k8s is checked the way a cluster would see it: each overlay rendered (base + patches),
 * every object validated against the Kubernetes schemas (unknown fields included), and the
 * references between objects and Briefly's own configuration followed.
 */
const K8S = join(ROOT, 'deploy/k8s');
const OVERLAYS = readdirSync(join(K8S, 'overlays'));
const SECRET_EXAMPLE = readYamlObjects(join(K8S, 'base/secret.example.yaml'));

type Container = {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: {
    name: string;
    valueFrom?: {
      configMapKeyRef?: { name: string; key: string };
      secretKeyRef?: { name: string; key: string };
    };
  }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};
type Probe = { httpGet?: { path: string; port: string | number } };

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
// biome-ignore lint/suspicious/noExplicitAny: the tests walk rendered manifests of many shapes
const spec = (o: K8sObject) => o.spec as Record<string, any>;
const containers = (o: K8sObject) => podContainers(o) as unknown as Container[];
const dataOf = (o: K8sObject) => ({
  ...(o.data as Record<string, string>),
  ...(o.stringData as Record<string, string>),
});

describe.each(OVERLAYS)('deploy/k8s/overlays/%s', (overlay) => {
  const objects = kustomize(join(K8S, 'overlays', overlay));
  const config = one(objects, 'ConfigMap', 'briefly-config');
  const configData = dataOf(config);
  const deployments = byKind(objects, 'Deployment');
  const workloads = [...deployments, ...byKind(objects, 'Job')];

  it('when rendered, then it equals what `kubectl kustomize` builds', () => {
    let rendered: string;
    try {
      rendered = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], { encoding: 'utf8' });
    } catch (error) {
      throw new Error(`\`kubectl kustomize\` failed (is kubectl installed?): ${(error as Error).message}`);
    }
    const theirs = parseAllDocuments(rendered).map((d) => d.toJS() as K8sObject);
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const sort = (list: K8sObject[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sort(objects)).toEqual(sort(theirs));
  });

  it('when every object is validated against the Kubernetes schemas, then none has an error or an unknown field', async () => {
    expect(objects.length).toBeGreaterThan(8);
    const problems: string[] = [];
    for (const o of [...objects, ...SECRET_EXAMPLE]) {
      for (const p of await validateObject(o)) problems.push(`${o.kind} ${o.metadata.name}: ${p}`);
    }
    expect(problems).toEqual([]);
  });

  it('when rendered, then there is one Deployment per role, running `briefly start --role <role>` with its component label', () => {
    const roles = deployments.map((d) => {
      const [container] = containers(d);
      expect(containers(d)).toHaveLength(1);
      const role = container?.command?.[3] as string;
      expect(container?.command?.slice(0, 3), d.metadata.name).toEqual(['briefly', 'start', '--role']);
      expect(ROLES, d.metadata.name).toContain(role);
      expect(spec(d).template.metadata.labels['app.kubernetes.io/component']).toBe(role);
      expect(d.metadata.name).toBe(`briefly-${role}`);
      return role;
    });
    expect(roles.sort()).toEqual(['scheduler', 'web', 'worker']);
  });

  it('when a namespace is set, then every namespaced object is in it and the Namespace itself exists', () => {
    const [namespace] = byKind(objects, 'Namespace');
    expect(namespace).toBeDefined();
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(namespace?.metadata.name);
    }
  });

  it('when images are set, then every container runs the overlay image and no placeholder remains', () => {
    for (const w of workloads) {
      for (const c of containers(w))
        expect(c.image, w.metadata.name).toMatch(/^[a-z0-9.-]+(\/[a-z0-9._-]+)+:[\w.-]+$/);
    }
    expect(new Set(workloads.flatMap((w) => containers(w).map((c) => c.image))).size).toBe(1);
  });

  it('when selectors are followed, then each selects its own pods: Deployments, the Service, the PodDisruptionBudget', () => {
    for (const d of deployments) {
      const selector = spec(d).selector.matchLabels as Record<string, string>;
      expect(spec(d).template.metadata.labels).toMatchObject(selector);
      // No other Deployment's pods match (two Deployments must not fight over pods).
      for (const other of deployments.filter((x) => x !== d)) {
        expect(
          spec(other).template.metadata.labels,
          `${d.metadata.name} selects ${other.metadata.name}`,
        ).not.toMatchObject(selector);
      }
    }
    const selected = (selector: Record<string, string>) =>
      deployments.filter((d) =>
        Object.entries(selector).every(([k, v]) => spec(d).template.metadata.labels[k] === v),
      );
    const service = one(objects, 'Service', 'briefly-web');
    expect(selected(spec(service).selector).map((d) => d.metadata.name)).toEqual(['briefly-web']);
    for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
      expect(selected(spec(pdb).selector.matchLabels).length, pdb.metadata.name).toBe(1);
    }
  });

  it('when ports are followed, then Service, Ingress and probes name ports the containers have, and PORT is the http port', () => {
    const web = one(objects, 'Deployment', 'briefly-web');
    const webPorts = containers(web)[0]?.ports ?? [];
    const service = one(objects, 'Service', 'briefly-web');
    for (const port of spec(service).ports) {
      expect(webPorts.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort)).toBe(
        true,
      );
    }
    expect(webPorts.find((p) => p.name === 'http')?.containerPort).toBe(Number(configData.PORT));
    for (const ingress of byKind(objects, 'Ingress')) {
      for (const rule of spec(ingress).rules) {
        for (const path of rule.http.paths) {
          const backend = path.backend.service;
          const target = one(objects, 'Service', backend.name);
          expect(
            spec(target).ports.some(
              (p: { name: string; port: number }) =>
                p.name === backend.port.name || p.port === backend.port.number,
            ),
          ).toBe(true);
        }
      }
      expect(spec(ingress).tls[0].hosts).toContain(spec(ingress).rules[0].host);
      expect(configData.PUBLIC_URL).toBe(`https://${spec(ingress).rules[0].host}`);
    }
    for (const d of deployments) {
      for (const c of containers(d)) {
        const ports = c.ports ?? [];
        for (const [kind, probe] of Object.entries({
          startup: c.startupProbe,
          liveness: c.livenessProbe,
          readiness: c.readinessProbe,
        })) {
          expect(probe?.httpGet, `${d.metadata.name} ${kind}`).toBeDefined();
          const port = probe?.httpGet?.port;
          expect(
            ports.some((p) => p.name === port || p.containerPort === port),
            `${d.metadata.name} ${kind} port ${port}`,
          ).toBe(true);
        }
        expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
        expect(c.startupProbe?.httpGet?.path).toBe('/healthz');
        expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
        // The web role answers probes on its API port; the others on their metrics listener.
        const probePort = d.metadata.name === 'briefly-web' ? 'http' : 'metrics';
        expect(c.livenessProbe?.httpGet?.port, d.metadata.name).toBe(probePort);
      }
    }
  });

  it('when Prometheus reads the annotations, then every pod is scraped on METRICS_PORT, where the container listens', () => {
    expect(configData.METRICS_HOST).toBe('0.0.0.0');
    for (const d of deployments) {
      const annotations = spec(d).template.metadata.annotations as Record<string, string>;
      expect(annotations, d.metadata.name).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': configData.METRICS_PORT,
        'prometheus.io/path': '/metrics',
      });
      const metrics = containers(d)[0]?.ports?.find((p) => p.name === 'metrics');
      expect(metrics?.containerPort, d.metadata.name).toBe(Number(configData.METRICS_PORT));
    }
  });

  it('when configuration is followed, then every referenced ConfigMap, Secret and key exists and every key is a Briefly variable', () => {
    const configMaps = new Map(byKind(objects, 'ConfigMap').map((c) => [c.metadata.name, dataOf(c)]));
    const secrets = new Map(SECRET_EXAMPLE.map((s) => [s.metadata.name, dataOf(s)]));
    expect(byKind(objects, 'Secret'), 'real secrets are not in the kustomization').toEqual([]);
    for (const w of workloads) {
      for (const c of containers(w)) {
        expect(c.envFrom?.length, w.metadata.name).toBeGreaterThan(0);
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef)
            expect(configMaps.has(from.configMapRef.name), from.configMapRef.name).toBe(true);
          if (from.secretRef) expect(secrets.has(from.secretRef.name), from.secretRef.name).toBe(true);
        }
        for (const variable of c.env ?? []) {
          expect(CONFIG_VARIABLES, `${w.metadata.name}: env ${variable.name}`).toContain(variable.name);
          const ref = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const source = variable.valueFrom?.configMapKeyRef ? configMaps : secrets;
          expect(Object.keys(source.get(ref.name) ?? {}), `${variable.name} -> ${ref.name}`).toContain(
            ref.key,
          );
        }
      }
    }
    for (const [name, data] of [...configMaps, ...secrets]) {
      for (const key of Object.keys(data)) expect(CONFIG_VARIABLES, `${name}: ${key}`).toContain(key);
    }
    // Secrets stay out of the ConfigMap.
    for (const key of Object.keys(configData))
      expect(key, key).not.toMatch(/TOKEN|SECRET|_KEY$|PASSWORD|DATABASE_URL|REDIS_URL|SMTP_URL|DSN/);
  });

  it('when the ConfigMap and a filled-in example Secret are loaded, then Briefly accepts the configuration', () => {
    const env = {
      ...configData,
      ...dataOf(SECRET_EXAMPLE[0] as K8sObject),
      // The two values the example leaves for the operator to fill in.
      ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      SMTP_URL: 'smtp://relay.example.com:587',
    };
    const loaded = loadConfig(env);
    expect(loaded.production).toBe(true);
    expect(loaded.migrateOnStart).toBe(false);
    expect(loaded.metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(loaded.http.trustProxy).toBe(1);
  });

  it('when deployed, then the migration Job runs `briefly migrate` and the roles wait for it instead of migrating', () => {
    const job = one(objects, 'Job', 'briefly-migrate');
    expect(containers(job)[0]?.command).toEqual(['briefly', 'migrate']);
    expect(podSpec(job)?.restartPolicy).toBe('Never');
    expect(configData.MIGRATE_ON_START).toBe('false');
  });

  it('when scheduled, then every container has resource requests and limits, and runs as non-root without privilege escalation', () => {
    for (const w of workloads) {
      for (const c of containers(w) as (Container & { securityContext?: Record<string, unknown> })[]) {
        expect(Object.keys(c.resources?.requests ?? {}).sort(), w.metadata.name).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort(), w.metadata.name).toEqual(['cpu', 'memory']);
        expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
      }
      expect((podSpec(w)?.securityContext as Record<string, unknown>)?.runAsNonRoot).toBe(true);
    }
  });

  it('when the worker autoscaler is read, then it scales the worker Deployment within sane bounds', () => {
    const [hpa, ...others] = byKind(objects, 'HorizontalPodAutoscaler');
    expect(others).toEqual([]);
    const target = spec(hpa as K8sObject).scaleTargetRef;
    expect(one(objects, target.kind, target.name).metadata.name).toBe('briefly-worker');
    expect(spec(hpa as K8sObject).minReplicas).toBeGreaterThanOrEqual(1);
    expect(spec(hpa as K8sObject).maxReplicas).toBeGreaterThan(spec(hpa as K8sObject).minReplicas);
  });
});

describe('manifest validation catches mistakes', () => {
  const base = kustomize(join(K8S, 'overlays', OVERLAYS[0] as string));
  const web = () =>
    structuredClone(
      base.find((o) => o.kind === 'Deployment' && o.metadata.name === 'briefly-web') as K8sObject,
    );

  it('when a field name has a typo, then validation names it', async () => {
    const typo = web();
    const c = (spec(typo).template.spec.containers as Record<string, unknown>[])[0] as Record<
      string,
      unknown
    >;
    c.livenesProbe = c.livenessProbe;
    delete c.livenessProbe;
    expect(await validateObject(typo)).toEqual([
      '/spec/template/spec/containers/0/livenesProbe is not a field of apps/v1 Deployment',
    ]);
    const deep = web();
    spec(deep).template.spec.containers[0].readinessProbe.httpGet.paht = '/readyz';
    expect(await validateObject(deep)).toEqual([
      '/spec/template/spec/containers/0/readinessProbe/httpGet/paht is not a field of apps/v1 Deployment',
    ]);
  });

  it('when a value has the wrong type or format, or a required field is missing, then validation fails', async () => {
    const replicas = web();
    spec(replicas).replicas = 'three';
    expect((await validateObject(replicas)).join()).toMatch(/\/spec\/replicas must be integer/);
    const quantity = web();
    spec(quantity).template.spec.containers[0].resources.limits.memory = '512 megabytes';
    expect((await validateObject(quantity)).join()).toMatch(/limits\/memory must match format "quantity"/);
    const noName = web();
    spec(noName).template.spec.containers[0].name = undefined;
    expect((await validateObject(JSON.parse(JSON.stringify(noName)))).join()).toMatch(
      /containers\/0 must have required property name/,
    );
  });

  it('when apiVersion or kind is wrong, then there is no schema and validation says so', async () => {
    expect(await validateObject({ ...web(), apiVersion: 'apps/v2' })).toEqual([
      'no schema for apps/v2 Deployment (a typo in apiVersion or kind?)',
    ]);
    expect(await validateObject({ ...web(), kind: 'Deploymnet' })).toEqual([
      'no schema for apps/v1 Deploymnet (a typo in apiVersion or kind?)',
    ]);
  });

  it('when open maps (labels, annotations, ConfigMap data) have any keys, then they are not taken for unknown fields', async () => {
    const labelled = web();
    labelled.metadata.labels = { 'example.com/anything': 'x' };
    labelled.metadata.annotations = { 'prometheus.io/port': '9464' };
    expect(await validateObject(labelled)).toEqual([]);
  });
});

describe('test/helpers/kustomize.ts', () => {
  const write = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  const deployment =
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: a, image: "app:1"}]\n';

  it('when a kustomization uses a feature it does not render, then it refuses instead of ignoring it', () => {
    const dir = write({
      'kustomization.yaml': 'resources: [d.yaml]\ncommonLabels: {a: b}\n',
      'd.yaml': deployment,
    });
    expect(() => kustomize(dir)).toThrow(/"commonLabels" is not supported/);
    const strategic = write({
      'kustomization.yaml':
        'resources: [d.yaml]\npatches:\n  - target: {kind: Deployment}\n    patch: "spec: {replicas: 2}"\n',
      'd.yaml': deployment,
    });
    expect(() => kustomize(strategic)).toThrow(/only RFC 6902/);
  });

  it('when a patch path or target is wrong, then rendering fails', () => {
    const badPath = write({
      'kustomization.yaml':
        'resources: [d.yaml]\npatches:\n  - target: {kind: Deployment, name: a}\n    patch: "[{op: replace, path: /spec/replica, value: 2}]"\n',
      'd.yaml': deployment,
    });
    expect(() => kustomize(badPath)).toThrow();
    const badTarget = write({
      'kustomization.yaml':
        'resources: [d.yaml]\npatches:\n  - target: {kind: Deployment, name: b}\n    patch: "[{op: replace, path: /spec/replicas, value: 2}]"\n',
      'd.yaml': deployment,
    });
    expect(() => kustomize(badTarget)).toThrow(/matches nothing/);
  });

  it('when images, namespace and patches are set, then they apply to the matching objects only', () => {
    const dir = write({
      'kustomization.yaml':
        'namespace: ns\nresources: [d.yaml]\nimages: [{name: app, newName: reg.io/app, newTag: "2"}, {name: other, newTag: "9"}]\npatches:\n  - target: {kind: Deployment, name: a}\n    patch: "[{op: replace, path: /spec/replicas, value: 3}]"\n',
      'd.yaml': `${deployment}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n`,
    });
    const [d, ns] = kustomize(dir) as [K8sObject, K8sObject];
    expect(d.metadata.namespace).toBe('ns');
    expect(spec(d).replicas).toBe(3);
    expect(spec(d).template.spec.containers[0].image).toBe('reg.io/app:2');
    expect(ns.metadata.namespace).toBeUndefined();
  });
});
