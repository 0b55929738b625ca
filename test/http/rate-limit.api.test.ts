import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSendgridKeyPair } from '../helpers/sendgrid.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };

beforeAll(async () => {
  svc = await startTestService({
    API_RATE_LIMIT_PER_MINUTE: '5',
    API_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '3',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '4',
    SENDGRID_WEBHOOK_PUBLIC_KEY: generateSendgridKeyPair().publicKeyBase64,
  });
  auth = await apiAuth(svc);
});
afterAll(async () => {
  await svc.close();
});

const warnings = (message: string) =>
  svc.log
    .lines()
    .map((line) => JSON.parse(line))
    .filter((line) => line.message === message);

describe('API rate limits', () => {
  it('when an address keeps sending bad keys, then it gets 401 up to its limit, then 429, while a valid key there is still served', async () => {
    const bad = (remoteAddress: string) =>
      svc.web.inject({
        method: 'GET',
        url: '/v1/reps',
        headers: { authorization: 'Bearer brf_not-a-real-key' },
        remoteAddress,
      });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await bad('203.0.113.7')).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const limited = await bad('203.0.113.7');
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json().detail).toMatch(/without a valid API key from this address/);
    // No key at all counts the same; another address has its own budget.
    const missing = await svc.web.inject({ method: 'GET', url: '/v1/reps', remoteAddress: '203.0.113.7' });
    expect(missing.statusCode).toBe(429);
    expect((await bad('203.0.113.8')).statusCode).toBe(401);
    const good = await svc.web.inject({
      method: 'GET',
      url: '/v1/reps',
      headers: auth,
      remoteAddress: '203.0.113.7',
    });
    expect(good.statusCode).toBe(200);

    // Seven rejections from 203.0.113.7: one warning now, the rest in the minute's summary.
    const rejected = warnings('request rejected (unauthenticated)');
    expect(rejected.filter((w) => w.address === '203.0.113.7')).toHaveLength(1);
    expect(warnings('request rate-limited').filter((w) => w.address === '203.0.113.7')).toHaveLength(1);
  });

  it('when a valid key goes over its limit, then 429 names the key limit', async () => {
    const other = await apiAuth(svc);
    const statuses = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (
          await svc.web.inject({
            method: 'GET',
            url: '/v1/reps',
            headers: other,
            remoteAddress: '198.51.100.1',
          })
        ).statusCode,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const res = await svc.web.inject({ method: 'GET', url: '/v1/reps', headers: other });
    expect(res.json().detail).toMatch(/for this API key/);
  });
});

describe('Slack and webhook rate limits', () => {
  it('when one address floods /slack/events and /webhooks with forged requests, then past the limit it gets 429 and the log gets one line', async () => {
    const forgedSlack = () =>
      svc.web.inject({
        method: 'POST',
        url: '/slack/events',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-signature': 'v0=forged',
          'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)),
        },
        payload: 'command=%2Fbriefly&user_id=U1',
        remoteAddress: '192.0.2.50',
      });
    const unsignedWebhook = () =>
      svc.web.inject({
        method: 'POST',
        url: '/webhooks/sendgrid',
        headers: { 'content-type': 'application/json' },
        payload: '[]',
        remoteAddress: '192.0.2.50',
      });
    const statuses = [
      (await forgedSlack()).statusCode,
      (await forgedSlack()).statusCode,
      (await unsignedWebhook()).statusCode,
      (await unsignedWebhook()).statusCode,
      (await forgedSlack()).statusCode,
      (await unsignedWebhook()).statusCode,
    ];
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    const limited = await forgedSlack();
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(
      warnings('request rejected (unauthenticated)').filter(
        (w) => w.address === '192.0.2.50' && w.route === '/slack/events',
      ),
    ).toHaveLength(1);
    // Another address is not affected.
    const elsewhere = await svc.web.inject({
      method: 'POST',
      url: '/slack/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'command=%2Fbriefly',
      remoteAddress: '192.0.2.51',
    });
    expect(elsewhere.statusCode).toBe(401);
  });

  it('when health and readiness are probed often, then they are never limited', async () => {
    for (let i = 0; i < 10; i++) {
      expect(
        (await svc.web.inject({ method: 'GET', url: '/healthz', remoteAddress: '192.0.2.60' })).statusCode,
      ).toBe(200);
    }
  });
});
