import type { K8sObject } from './kustomize.ts';

/**
 * Validation against the Kubernetes JSON schemas as `kubernetes-models` ships them (ajv validators
 * compiled from the Kubernetes OpenAPI document: types, required fields, enums, quantity and
 * int-or-string formats), plus the strictness `kubectl --validate=strict` and kubeconform -strict
 * have: a field the schema does not know (a typo such as `livenesProbe`) is an error too.
 *
 * Those validators keep no list of known fields, so unknown ones are found by asking them: each
 * field in turn is replaced by a value no schema accepts (a symbol); a field the schema knows then
 * fails validation at its own path, an unknown one does not. Open maps (labels, annotations,
 * ConfigMap data) validate their values, so their keys count as known.
 */
type Model = new (data: unknown) => { validate(): void };
const PROBE = Symbol('not-a-json-value');

async function modelFor(o: K8sObject): Promise<Model> {
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
    throw new Error('apiVersion and kind are required');
  const path = o.apiVersion.includes('/') ? o.apiVersion : `v1`;
  if (!/^[a-z0-9.]+\/v\d+(?:(alpha|beta)\d+)?$|^v1$/.test(path) || !/^[A-Z][A-Za-z]+$/.test(o.kind)) {
    throw new Error(`unknown apiVersion/kind ${o.apiVersion}/${o.kind}`);
  }
  try {
    const mod = (await import(`kubernetes-models/${path}/${o.kind}`)) as Record<string, Model>;
    const model = mod[o.kind];
    if (!model) throw new Error('no model');
    return model;
  } catch {
    throw new Error(`no schema for ${o.apiVersion} ${o.kind} (a typo in apiVersion or kind?)`);
  }
}

interface AjvError {
  instancePath: string;
  message?: string;
}

function errorsOf(model: Model, data: unknown): AjvError[] {
  try {
    new model(data).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!errors) throw error;
    return errors;
  }
}

const pointer = (path: (string | number)[]) =>
  path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** Every problem in one object, as "<json pointer> <message>"; empty when it is valid. */
export async function validateObject(o: K8sObject): Promise<string[]> {
  let model: Model;
  try {
    model = await modelFor(o);
  } catch (error) {
    return [(error as Error).message];
  }
  const problems = errorsOf(model, o).map((e) => `${e.instancePath || '/'} ${e.message}`);
  if (problems.length > 0) return problems;

  const copy = structuredClone(o) as unknown;
  const unknown: string[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, [...path, i]);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const saved = record[key];
      record[key] = PROBE;
      const here = pointer([...path, key]);
      const known = errorsOf(model, copy).some(
        (e) => e.instancePath === here || e.instancePath.startsWith(`${here}/`),
      );
      record[key] = saved;
      if (!known) unknown.push(`${here} is not a field of ${o.apiVersion} ${o.kind}`);
      else walk(saved, [...path, key]);
    }
  };
  walk(copy, []);
  return unknown;
}
