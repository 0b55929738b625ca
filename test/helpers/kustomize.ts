import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';

/**
 * A small `kustomize build` for the features deploy/k8s uses, so the manifest tests need no
 * binary: `resources` (files and directories), `namespace`, `images` and `patches` in RFC 6902
 * form with a kind/name target. Anything else in a kustomization is refused rather than ignored,
 * so a new feature there fails the tests until this renders it too (and the comparison with
 * `kubectl kustomize` in test/deploy/k8s.test.ts keeps both agreeing).
 */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  patches?: {
    path?: string;
    patch?: string;
    target: { kind?: string; name?: string; group?: string; version?: string };
  }[];
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
/** Kinds without a namespace among those the manifests could use. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'IngressClass',
  'PriorityClass',
]);

export function readYamlObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    return value === null || value === undefined ? [] : [value as K8sObject];
  });
}

export function kustomize(dir: string): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => join(dir, f))
    .find(existsSync);
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = readYamlObjects(file) as unknown as Kustomization[];
  if (!k) throw new Error(`${file} is empty`);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key))
      throw new Error(`${file}: "${key}" is not supported by test/helpers/kustomize.ts`);
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization')
    throw new Error(`${file}: kind must be Kustomization`);

  let objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : readYamlObjects(path)));
  }

  for (const p of k.patches ?? []) {
    const text = p.patch ?? (p.path ? readFileSync(resolve(dir, p.path), 'utf8') : undefined);
    if (!text) throw new Error(`${file}: a patch needs patch or path`);
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    const ops = docs[0];
    if (docs.length !== 1 || !Array.isArray(ops)) {
      throw new Error(`${file}: only RFC 6902 (JSON patch) lists are supported, not strategic merge patches`);
    }
    const matches = objects.filter((o) => targets(p.target, o));
    if (matches.length === 0)
      throw new Error(`${file}: patch target ${JSON.stringify(p.target)} matches nothing`);
    objects = objects.map((o) =>
      matches.includes(o)
        ? (fastJsonPatch.applyPatch(structuredClone(o), ops as Operation[], true, false)
            .newDocument as K8sObject)
        : o,
    );
  }

  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }

  for (const image of k.images ?? []) {
    for (const o of objects) {
      for (const container of podContainers(o)) {
        const { name, rest } = splitImage(container.image);
        if (name !== image.name) continue;
        const tag = image.digest ? `@${image.digest}` : image.newTag ? `:${image.newTag}` : rest;
        container.image = `${image.newName ?? name}${tag}`;
      }
    }
  }
  return objects;
}

function targets(
  target: { kind?: string; name?: string; group?: string; version?: string },
  o: K8sObject,
): boolean {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return (
    (target.kind === undefined || target.kind === o.kind) &&
    (target.name === undefined || new RegExp(`^(?:${target.name})$`).test(o.metadata.name)) &&
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version)
  );
}

/** Containers and init containers of a workload's pod template (or a Pod's own spec). */
export function podContainers(o: K8sObject): { name: string; image: string; [key: string]: unknown }[] {
  const spec = podSpec(o);
  if (!spec) return [];
  return [...((spec.initContainers as never[]) ?? []), ...((spec.containers as never[]) ?? [])];
}

export function podSpec(o: K8sObject): Record<string, unknown> | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: pod templates sit at different depths per kind
  const spec = o.spec as Record<string, any> | undefined;
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec;
  if (o.kind === 'CronJob') return spec.jobTemplate?.spec?.template?.spec;
  return spec.template?.spec;
}

function splitImage(image: string): { name: string; rest: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), rest: image.slice(at) };
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/')
    ? { name: image.slice(0, colon), rest: image.slice(colon) }
    : { name: image, rest: '' };
}
