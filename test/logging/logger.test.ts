import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';

function capture(secrets: string[]) {
  const stream = new PassThrough();
  const out: string[] = [];
  stream.on('data', (c) => out.push(String(c)));
  return { logger: createLogger({ level: 'debug', format: 'json', secrets, stream }), out };
}

describe('logger', () => {
  it('when a failed query with its parameters is logged as text or as an error, then only the statement and code remain', async () => {
    const { logger, out } = capture([]);
    const message =
      'Failed query: insert into "reps" ("name", "email") values ($1, $2)\nparams: Ana Secret,ana@client.test';
    const error = Object.assign(new Error(message), { cause: { code: '23505' } });
    logger.warn('job failed', { error: message });
    logger.error('boom', { failure: error });
    await new Promise((r) => setImmediate(r));
    const [text, structured] = out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(text.error).toBe('Failed query: insert into "reps" ("name", "email") values ($1, $2)');
    expect(structured.failure).toMatchObject({ message: text.error, code: '23505' });
    expect(out.join('')).not.toMatch(/ana@client\.test|Ana Secret/);
  });

  it('when a configured secret appears in a message or field, then it is redacted', async () => {
    const { logger, out } = capture(['s3cr3t-signing']);
    logger.info('signing with s3cr3t-signing now', { nested: { note: 'value s3cr3t-signing' } });
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).not.toContain('s3cr3t-signing');
    expect(out.join('')).toContain('[redacted]');
  });

  it('when a field is named like a secret, then its value is redacted whatever it is', async () => {
    const { logger, out } = capture([]);
    logger.info('request', {
      headers: { authorization: 'Bearer abc', 'x-ok': 'fine' },
      api_key: 'k1',
      password: 'p',
    });
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(out.join(''));
    expect(line.headers).toEqual({ authorization: '[redacted]', 'x-ok': 'fine' });
    expect(line.api_key).toBe('[redacted]');
    expect(line.password).toBe('[redacted]');
  });

  it('when a Slack token shows up unannounced, then it is masked', async () => {
    const { logger, out } = capture([]);
    logger.warn('bad call with xoxb-123-456-abcdef');
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).not.toContain('abcdef');
  });

  it('when a child logger is made, then it carries correlation fields', async () => {
    const { logger, out } = capture([]);
    logger.child({ rep_id: 'r1', job_id: 'j1' }).info('hello');
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(out.join(''))).toMatchObject({ rep_id: 'r1', job_id: 'j1', message: 'hello' });
  });
});
