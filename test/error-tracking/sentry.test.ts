import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobTags } from '../../src/error-tracking/error-reporter.ts';
import { ROOT } from '../helpers/cli.ts';
import { FakeSentry } from '../helpers/fake-sentry.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const sentry = new FakeSentry();
let dsn: string;

beforeAll(async () => {
  dsn = await sentry.start();
});
afterAll(async () => sentry.stop());

/** Adds a job no handler knows: the worker fails it for good at once (UnrecoverableError). */
async function failJob(svc: TestService, jobId: string) {
  const queue = svc.queues.get('maintenance');
  await queue.add(
    'no-such-job',
    { messageId: 'msg-42', mailoutId: 7, note: 'not a tag' },
    { jobId, attempts: 3 },
  );
  const deadline = Date.now() + 30_000;
  while ((await queue.getJobState(jobId)) !== 'failed') {
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not fail`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('error tracking', () => {
  // First: this file's process has not initialised Sentry yet.
  it('when SENTRY_DSN is not set, then a failed job is only logged and nothing is sent', async () => {
    const svc = await startTestService({ SENTRY_DSN: '' }, 'worker');
    try {
      expect(svc.errors.enabled).toBe(false);
      await failJob(svc, 'quiet-1');
    } finally {
      await svc.close();
    }
    expect(svc.log.lines().some((l) => l.includes('job failed') && l.includes('quiet-1'))).toBe(true);
    expect(sentry.requests).toHaveLength(0);
  }, 60_000);

  it('when SENTRY_DSN is set and a job fails for good, then Sentry gets the error tagged with the job and its ids', async () => {
    const svc = await startTestService({ SENTRY_DSN: dsn, SENTRY_ENVIRONMENT: 'staging' }, 'worker');
    try {
      expect(svc.errors.enabled).toBe(true);
      await failJob(svc, 'loud-1');
      const event = await sentry.waitFor((e) => e.tags?.job_id === 'loud-1');
      expect(event.tags).toMatchObject({
        queue: 'maintenance',
        job_name: 'no-such-job',
        job_id: 'loud-1',
        message_id: 'msg-42',
        mailout_id: '7',
      });
      expect(event.tags).not.toHaveProperty('note');
      expect(event.environment).toBe('staging');
      expect(event.release).toMatch(/^briefly@\d+\.\d+\.\d+/);
      expect(event.exception?.values?.[0]?.value).toMatch(/No handler for job "no-such-job"/);
      expect(sentry.requests[0]?.url).toMatch(/^\/api\/1\/envelope\//);
      expect(sentry.events.filter((e) => e.tags?.job_id === 'loud-1')).toHaveLength(1);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('when the process throws an exception nobody catches, then it reaches Sentry and the process still exits 1', async () => {
    const script = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/error-tracking/uncaught.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, SENTRY_DSN: dsn },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const code = await new Promise<number | null>((resolve) => script.on('exit', resolve));
    expect(code).toBe(1);
    const event = await sentry.waitFor((e) => e.exception?.values?.[0]?.value === 'nobody caught this');
    expect(event.exception?.values?.[0]).toMatchObject({
      type: 'Error',
      mechanism: { handled: false, type: expect.stringMatching(/onuncaughtexception/) },
    });
  }, 60_000);

  it('when job data carries ids, then each id (and only ids) becomes a snake_case tag', () => {
    expect(
      jobTags('mailouts', {
        id: 'send-7-UTC',
        name: 'send',
        data: { mailoutId: 7, zone: 'UTC', enrollmentId: 'e1', text: 'x', nested: { id: 1 } },
      }),
    ).toEqual({
      queue: 'mailouts',
      job_name: 'send',
      job_id: 'send-7-UTC',
      mailout_id: '7',
      enrollment_id: 'e1',
    });
  });

  it('when the sources are read, then only the Sentry adapter imports @sentry/node and only on demand', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const importers = files(join(ROOT, 'src'))
      .filter((f) => /from '@sentry\/|import\('@sentry\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(importers).toEqual(['src/error-tracking/sentry.error-reporter.ts']);
    const adapterUsers = files(join(ROOT, 'src')).filter((f) =>
      readFileSync(f, 'utf8').includes('sentry.error-reporter'),
    );
    expect(adapterUsers.map((f) => relative(ROOT, f))).toEqual(['src/error-tracking/error-reporter.ts']);
    expect(readFileSync(join(ROOT, 'src/error-tracking/error-reporter.ts'), 'utf8')).toMatch(
      /if \(!options\.dsn\) return noErrorReporter;\n\s+const \{ createSentryReporter \} = await import\('\.\/sentry\.error-reporter\.ts'\);/,
    );
  });
});
