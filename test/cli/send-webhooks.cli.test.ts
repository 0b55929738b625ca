import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { dropDatabase, testEnv } from '../helpers/service.ts';

const env = testEnv({ SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', LOG_LEVEL: 'warn' });
afterAll(async () => dropDatabase(env.DATABASE_URL as string));

describe('briefly send', () => {
  it('when sent with the file outbox, then it prints the id and each transition, and the .eml carries the printed Message-ID', async () => {
    const res = await runCli(['send', '--to', 'ana@client.test', '--subject', 'Hello from the CLI'], env);
    expect(res.stderr).not.toMatch(/Error/);
    expect(res.code).toBe(0);
    const id = res.stdout.match(/^Message ([0-9a-f-]{36}) accepted for ana@client\.test/m)?.[1];
    const messageId = res.stdout.match(/\(Message-ID (<[^>]+@localhost>)\)/)?.[1];
    expect(id).toBeDefined();
    expect(messageId).toBeDefined();
    const lines = res.stdout.split('\n');
    const order = ['  accepted', '  queued', '  sending (attempt 1)', '  sent via file-outbox'].map((text) =>
      lines.findIndex((line) => line.includes(text)),
    );
    expect(order.every((index) => index > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(res.stdout).toContain(`Message ${id}: sent via file-outbox`);
    const dir = env.EMAIL_OUTBOX_DIR as string;
    const file = readdirSync(dir).find((f) => f.includes(id as string)) as string;
    const eml = readFileSync(join(dir, file), 'utf8');
    expect(eml).toMatch(/^Subject: Hello from the CLI$/m);
    expect(eml).toMatch(/^To: ana@client\.test$/m);
    expect(eml).toContain(`Message-ID: ${messageId}`);
  }, 60_000);

  it('when --to is missing or not an address, then it exits 1 saying so', async () => {
    const missing = await runCli(['send'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('send needs --to ADDRESS');
    const bad = await runCli(['send', '--to', 'not-an-address'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('to: must be an email address');
  }, 60_000);
});

/** SendGrid's webhook settings endpoints on loopback, with state, recording each request. */
function fakeSendgrid() {
  const requests: { method: string; url: string; auth: string; body: unknown }[] = [];
  const state = {
    settings: { enabled: false, url: '', delivered: true, bounce: false } as Record<string, unknown>,
    publicKey: '',
    status: 200,
  };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => resolve(data));
    });
  const server: Server = createServer(async (req, res) => {
    const text = await read(req);
    const body = text ? JSON.parse(text) : undefined;
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization ?? '',
      body,
    });
    res.setHeader('content-type', 'application/json');
    if (state.status !== 200) {
      res.statusCode = state.status;
      res.end(JSON.stringify({ errors: [{ field: null, message: 'access forbidden' }] }));
      return;
    }
    if (req.url === '/v3/user/webhooks/event/settings') {
      if (req.method === 'PATCH') state.settings = { ...state.settings, ...body };
      res.end(JSON.stringify(state.settings));
      return;
    }
    if (req.url === '/v3/user/webhooks/event/settings/signed') {
      if (req.method === 'PATCH')
        state.publicKey = body.enabled ? 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfake==' : '';
      res.end(JSON.stringify({ id: 'wh-1', public_key: state.publicKey }));
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ errors: [{ message: 'not found' }] }));
  });
  return { server, requests, state };
}

describe('briefly webhooks', () => {
  const sg = fakeSendgrid();
  let wenv: Record<string, string | undefined>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => sg.server.listen(0, '127.0.0.1', resolve));
    wenv = {
      ...env,
      SENDGRID_API_KEY: 'SG.cli-test-key',
      SENDGRID_BASE_URL: `http://127.0.0.1:${(sg.server.address() as AddressInfo).port}`,
      PUBLIC_URL: 'https://briefly.example.test',
    };
  });
  afterAll(() => new Promise<void>((resolve) => sg.server.close(() => resolve())));

  it('when the webhook is off, then check exits 1 naming what to fix; register fixes it and check passes with the printed key', async () => {
    const before = await runCli(['webhooks', 'check'], wenv);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain('FIX  Event Webhook is disabled');
    expect(before.stdout).toContain(
      'FIX  it posts to (no URL), not https://briefly.example.test/webhooks/sendgrid',
    );
    expect(before.stdout).toContain('FIX  signing (Signed Event Webhook) is off');
    expect(before.stdout).toMatch(/FIX {2}events not selected: processed, deferred, bounce/);
    expect(sg.requests.every((r) => r.method === 'GET' && r.auth === 'Bearer SG.cli-test-key')).toBe(true);

    const registered = await runCli(['webhooks', 'register'], wenv);
    expect(registered.stderr).toBe('');
    expect(registered.code).toBe(0);
    const key = registered.stdout.match(/^SENDGRID_WEBHOOK_PUBLIC_KEY=(\S+)$/m)?.[1];
    expect(key).toBe('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfake==');
    const patches = sg.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.url)).toEqual([
      '/v3/user/webhooks/event/settings',
      '/v3/user/webhooks/event/settings/signed',
    ]);
    expect(patches[0]?.body).toEqual({
      enabled: true,
      url: 'https://briefly.example.test/webhooks/sendgrid',
      processed: true,
      deferred: true,
      delivered: true,
      bounce: true,
      dropped: true,
      spam_report: true,
      unsubscribe: true,
      group_unsubscribe: true,
      open: true,
      click: true,
    });
    expect(patches[1]?.body).toEqual({ enabled: true });

    const wrongKey = await runCli(['webhooks', 'check'], wenv);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain('FIX  SENDGRID_WEBHOOK_PUBLIC_KEY is not set: set it to the key below');
    expect(wrongKey.stdout).toContain(`SENDGRID_WEBHOOK_PUBLIC_KEY=${key}`);

    const after = await runCli(['webhooks', 'check'], { ...wenv, SENDGRID_WEBHOOK_PUBLIC_KEY: key });
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain('FIX');
    expect(after.stdout).toContain('SendGrid webhooks are set up.');
  }, 90_000);

  it('when PUBLIC_URL is local, then register refuses before calling SendGrid and points at the tunnel section', async () => {
    const calls = sg.requests.length;
    const res = await runCli(['webhooks', 'register'], { ...wenv, PUBLIC_URL: 'http://localhost:3000' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/local address SendGrid cannot reach.*HTTPS tunnel/);
    expect(sg.requests.length).toBe(calls);
  }, 60_000);

  it('when SendGrid answers 403, then the command says the API key lacks access', async () => {
    sg.state.status = 403;
    try {
      const res = await runCli(['webhooks', 'check'], wenv);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(
        /answered 403: access forbidden \(the API key in SENDGRID_API_KEY needs access/,
      );
      expect(res.stderr).not.toContain('SG.cli-test-key');
    } finally {
      sg.state.status = 200;
    }
  }, 60_000);
});
