import { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { mailoutJobHandlers } from '../../src/mailouts/mailout.handlers.ts';
import { type Service, startService } from '../../src/main.ts';
import { nextWindowOpening } from '../../src/shared/local-window.ts';
import { FakeSendApi, fakeJwt, OK } from '../helpers/send-api.ts';
import { apiAuth, startTestService, type TestService, testLogger } from '../helpers/service.ts';

const fake = new FakeSendApi();
let svc: TestService;
let auth: { authorization: string };
let env: Record<string, string>;
let phoneSeq = 0;
let tagSeq = 0;

beforeAll(async () => {
  const url = await fake.start();
  env = {
    SEND_API_URL: url,
    SEND_API_TOKEN: fakeJwt(Math.floor(Date.now() / 1000) + 30 * 86_400),
    SEND_API_TIMEOUT_MS: '1000',
    SEND_API_RETRY_BASE_MS: '50',
    SEND_API_RETRY_MAX_MS: '200',
    SEND_API_PROBE_INTERVAL_MS: '300',
    MAILOUT_JOBS_PER_ZONE: '2',
    SEND_API_CIRCUIT_FAILURES: '5',
    CIRCUIT_MIN_REQUESTS: '100000',
  };
  svc = await startTestService(env);
  auth = await apiAuth(svc);
});
afterAll(async () => {
  await svc.close();
  await fake.stop();
});

async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Customers with a fresh tag (the test's audience); returns their phones and ids. */
async function customers(zones: string[]): Promise<{ tag: string; phones: string[]; ids: number[] }> {
  const tag = `t${++tagSeq}`;
  const phones: string[] = [];
  const ids: number[] = [];
  for (const zone of zones) {
    const phone = `7999${String(++phoneSeq).padStart(7, '0')}`;
    const { rows } = await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone) VALUES ($1, '999', $2, $3) RETURNING id`,
      [phone, tag, zone],
    );
    phones.push(phone);
    ids.push(Number(rows[0].id));
  }
  return { tag, phones, ids };
}

/** A window around the current local time in `zone` (open now), or one that opens in two hours. */
function windowIn(zone: string, open: boolean) {
  const local = DateTime.now().setZone(zone);
  const fmt = (d: DateTime) => d.toFormat('HH:mm');
  return open
    ? { from: fmt(local.minus({ minutes: 60 })), to: fmt(local.plus({ minutes: 60 })) }
    : { from: fmt(local.plus({ minutes: 120 })), to: fmt(local.plus({ minutes: 180 })) };
}

async function create(body: Record<string, unknown>) {
  const res = await svc.web.inject({
    method: 'POST',
    url: '/v1/mailouts',
    headers: auth,
    payload: {
      name: 'test',
      text: 'Hello from Briefly',
      starts_at: new Date(Date.now() - 1000).toISOString(),
      ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      ...body,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: number; status: string; version: number };
}

const messages = async (mailoutId: number) =>
  (
    await svc.db.query(
      'SELECT id::int, customer_id::int, status::text, attempts, last_error FROM mailout_messages WHERE mailout_id = $1 ORDER BY id',
      [mailoutId],
    )
  ).rows as {
    id: number;
    customer_id: number;
    status: string;
    attempts: number;
    last_error: string | null;
  }[];
const mailoutStatus = async (id: number) =>
  (await svc.db.query('SELECT status::text FROM mailouts WHERE id = $1', [id])).rows[0]?.status as string;
const requestsFor = (phones: string[]) => fake.requests.filter((r) => phones.includes(String(r.body.phone)));

describe('mailout sending', { timeout: 90_000 }, () => {
  it('when created inside the window without managers, then it starts at once; a closed zone waits for its own opening', async () => {
    fake.behaviour = () => OK;
    const window = windowIn('Asia/Kolkata', true);
    const { tag, phones } = await customers(['Asia/Kolkata', 'Asia/Kolkata', 'America/New_York']);
    const created = await create({
      filter: { tags: [tag] },
      window,
      ends_at: new Date(Date.now() + 2 * 86_400_000).toISOString(),
    });
    expect(created.status).toBe('scheduled');
    await until(async () => requestsFor(phones.slice(0, 2)).length === 2);
    const rows = await until(async () => {
      const r = await messages(created.id);
      return r.filter((m) => m.status === 'sent').length === 2 && r;
    });
    const sent = requestsFor(phones.slice(0, 2));
    expect(sent.map((r) => r.body.phone).sort()).toEqual(phones.slice(0, 2).map(Number).sort());
    for (const r of sent) {
      expect(r.authorization).toBe(`Bearer ${env.SEND_API_TOKEN}`);
      expect(r.body).toEqual({ id: r.msgId, phone: expect.any(Number), text: 'Hello from Briefly' });
      expect(rows.map((m) => m.id)).toContain(r.msgId);
    }
    // New York is 9-11 hours behind Kolkata: outside the same local window now.
    expect(requestsFor(phones.slice(2))).toHaveLength(0);
    expect(rows.filter((m) => m.status === 'pending')).toHaveLength(1);
    expect(await mailoutStatus(created.id)).toBe('running');
    const delayed = await svc.queues.get('mailouts').getDelayed();
    const ny = delayed.filter((j) => j.data.mailoutId === created.id && j.data.zone === 'America/New_York');
    expect(ny.length).toBeGreaterThan(0);
    const opening = nextWindowOpening(new Date(), 'America/New_York', window).getTime();
    for (const job of ny)
      expect(Math.abs(job.timestamp + (job.opts.delay ?? 0) - opening)).toBeLessThan(60_000);
  });

  it('when starts_at is in the future, then nothing is sent before it and everything after it', async () => {
    fake.behaviour = () => OK;
    const { tag, phones } = await customers(['Europe/Moscow', 'Asia/Kolkata']);
    const startsAt = Date.now() + 2_500;
    const created = await create({ filter: { tags: [tag] }, starts_at: new Date(startsAt).toISOString() });
    await sleep(800);
    expect(await mailoutStatus(created.id)).toBe('scheduled');
    expect(requestsFor(phones)).toHaveLength(0);
    await until(async () => requestsFor(phones).length === 2);
    for (const r of requestsFor(phones)) expect(r.at).toBeGreaterThanOrEqual(startsAt);
    await until(async () => (await mailoutStatus(created.id)) === 'finished');
  });

  it('when ends_at comes with a request in flight, then it is cut at ends_at, nothing starts after, and the message expires', async () => {
    fake.behaviour = () => 'hang';
    const { tag, phones } = await customers(['Europe/Moscow']);
    const endsAt = Date.now() + 1_800;
    const created = await create({ filter: { tags: [tag] }, ends_at: new Date(endsAt).toISOString() });
    await until(async () => (await messages(created.id))[0]?.status === 'expired', 8_000);
    const rows = await messages(created.id);
    expect(rows[0]?.last_error).toMatch(/ends_at/);
    expect(requestsFor(phones).length).toBeGreaterThan(0);
    for (const r of requestsFor(phones)) expect(r.at).toBeLessThan(endsAt);
    await until(async () => (await mailoutStatus(created.id)) === 'expired', 8_000);
    await sleep(300);
    for (const r of requestsFor(phones)) expect(r.at).toBeLessThan(endsAt);
  });

  it('when the API answers 503, garbage and 429 before OK, then the same msgId is retried until sent; a 400 fails for good', async () => {
    const { tag, phones } = await customers(['Europe/Moscow', 'Europe/Moscow']);
    const [flaky, refused] = phones.map(Number);
    fake.behaviour = (request, nth) => {
      if (request.body.phone === refused) return { status: 400, body: '{"code":1,"message":"bad phone"}' };
      if (nth === 1) return { status: 503, body: 'upstream down' };
      if (nth === 2) return { status: 200, body: '{"code":0,"message":"queued?"}' };
      if (nth === 3) return { status: 429, body: '' };
      return OK;
    };
    const created = await create({ filter: { tags: [tag] } });
    await until(async () => (await mailoutStatus(created.id)) === 'finished');
    const rows = await messages(created.id);
    const sent = rows.find((m) => m.status === 'sent');
    const failed = rows.find((m) => m.status === 'failed');
    expect(sent?.attempts).toBe(4);
    expect(failed?.attempts).toBe(1);
    expect(failed?.last_error).toMatch(/^400/);
    expect(new Set(requestsFor([String(flaky)]).map((r) => r.msgId))).toEqual(new Set([sent?.id]));
    const detail = await svc.web.inject({
      method: 'GET',
      url: `/v1/mailouts/${created.id}/messages/${sent?.id}`,
      headers: auth,
    });
    expect(detail.json().attempts_log.map((a: { status_code: number }) => a.status_code)).toEqual([
      503, 200, 429, 200,
    ]);
    const stats = (
      await svc.web.inject({ method: 'GET', url: `/v1/mailouts/${created.id}/stats`, headers: auth })
    ).json();
    expect(stats.counts).toEqual({ sent: 1, failed: 1 });
    expect(stats.by_operator_code['999']).toEqual({ sent: 1, failed: 1 });
    expect(stats.errors.map((e: { reason: string }) => e.reason)).toContain(failed?.last_error);
    const all = (await svc.web.inject({ method: 'GET', url: '/v1/mailouts/stats', headers: auth })).json();
    expect(all.mailouts.find((m: { id: number }) => m.id === created.id)).toMatchObject({
      status: 'finished',
      counts: { sent: 1, failed: 1 },
    });
  });

  it('when the API is down, then the breaker opens (alerted), probes, and sending resumes by itself (alerted)', async () => {
    // Earlier tests' failures must not leave the shared circuit half-way to opening.
    const redis = new Redis(svc.config.redisUrl);
    const keys = await redis.keys(`${svc.config.queuePrefix}:circuit:send-api:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    let down = true;
    fake.behaviour = () => (down ? { status: 502, body: '<html>bad gateway</html>' } : OK);
    const { tag, phones } = await customers(['Europe/Moscow', 'Europe/Moscow', 'Europe/Moscow']);
    const created = await create({ filter: { tags: [tag] } });
    const posts = async () =>
      (
        await svc.db.query(
          "SELECT text FROM slack_posts WHERE kind = 'send-api-circuit' AND copy_of IS NULL ORDER BY created_at",
        )
      ).rows;
    // Waits are generous: on a loaded CI machine delayed jobs and retries run late.
    await until(async () => (await posts()).length >= 1, 40_000);
    expect((await posts())[0].text).toMatch(/paused/);
    const duringOutage = requestsFor(phones).length;
    await sleep(700);
    // While open only probes go out: about one per probe interval (300 ms), not a retry storm.
    expect(requestsFor(phones).length - duringOutage).toBeLessThanOrEqual(6);
    down = false;
    await until(async () => (await mailoutStatus(created.id)) === 'finished', 40_000);
    expect((await messages(created.id)).every((m) => m.status === 'sent')).toBe(true);
    await until(async () => (await posts()).length >= 2, 40_000);
    expect((await posts())[1].text).toMatch(/recovered/);
  }, 120_000);

  it('when a customer is deleted mid-mailout, then nothing is sent to them after the delete returns', async () => {
    const { tag, phones, ids } = await customers(['Europe/Moscow', 'Europe/Moscow']);
    const victim = Number(phones[0]);
    fake.behaviour = (request) => (request.body.phone === victim ? { status: 503, delayMs: 100 } : OK);
    const created = await create({ filter: { tags: [tag] } });
    await until(async () => requestsFor([String(victim)]).length >= 2, 30_000);
    const res = await svc.web.inject({ method: 'DELETE', url: `/v1/customers/${ids[0]}`, headers: auth });
    expect(res.statusCode).toBe(204);
    const after = Date.now();
    await sleep(800);
    expect(requestsFor([String(victim)]).filter((r) => r.at >= after)).toHaveLength(0);
    const rows = await messages(created.id);
    expect(rows.find((m) => m.customer_id === ids[0])?.status).toBe('cancelled');
    await until(async () => (await mailoutStatus(created.id)) === 'finished', 30_000);
  }, 60_000);

  it('when paused, then no request starts after pause returns; resume sends the rest', async () => {
    let failing = true;
    fake.behaviour = () => (failing ? { status: 503, delayMs: 50 } : OK);
    const { tag, phones } = await customers(['Europe/Moscow', 'Europe/Moscow']);
    const created = await create({ filter: { tags: [tag] } });
    await until(async () => requestsFor(phones).length >= 2);
    const paused = await svc.web.inject({
      method: 'POST',
      url: `/v1/mailouts/${created.id}/pause`,
      headers: auth,
    });
    expect(paused.json().status).toBe('paused');
    const after = Date.now();
    await sleep(700);
    expect(requestsFor(phones).filter((r) => r.at >= after)).toHaveLength(0);
    failing = false;
    const resumed = await svc.web.inject({
      method: 'POST',
      url: `/v1/mailouts/${created.id}/resume`,
      headers: auth,
    });
    expect(resumed.json().status).toBe('running');
    await until(async () => (await mailoutStatus(created.id)) === 'finished');
  });

  it('when two worker processes share a mailout, then every message is requested exactly once', async () => {
    fake.behaviour = () => ({ status: 200, body: '{"code":0,"message":"OK"}', delayMs: 5 });
    const config = loadConfig({
      ...env,
      NODE_ENV: 'test',
      DATABASE_URL: svc.config.databaseUrl,
      QUEUE_PREFIX: svc.config.queuePrefix,
      LOG_LEVEL: 'warn',
      PORT: '0',
    });
    const second: Service = await startService(config, testLogger(config).logger, 'worker');
    try {
      const zones = ['Europe/Moscow', 'Asia/Kolkata', 'Asia/Tokyo'];
      const { tag, phones } = await customers(Array.from({ length: 240 }, (_, i) => zones[i % 3] as string));
      const created = await create({ filter: { tags: [tag] } });
      await until(async () => (await mailoutStatus(created.id)) === 'finished', 20_000);
      const requests = requestsFor(phones);
      expect(requests).toHaveLength(240);
      expect(new Set(requests.map((r) => r.msgId)).size).toBe(240);
      for (const ids of fake.msgIdsByPhone().values()) expect(ids.size).toBe(1);
    } finally {
      await second.stop();
    }
  });

  it('when a customer is added to a running mailout, then they are sent under the same rules', async () => {
    fake.behaviour = () => OK;
    const { tag } = await customers(['Europe/Moscow']);
    const created = await create({
      filter: { tags: [tag] },
      ends_at: new Date(Date.now() + 60_000).toISOString(),
    });
    await until(async () => (await messages(created.id))[0]?.status === 'sent');
    const late = await customers(['Europe/Moscow']);
    const res = await svc.web.inject({
      method: 'POST',
      url: `/v1/mailouts/${created.id}/messages`,
      headers: auth,
      payload: { customer_id: late.ids[0] },
    });
    // The mailout may finish (its one message sent) before the request arrives: then it is refused.
    if (res.statusCode === 409) {
      expect(await mailoutStatus(created.id)).toBe('finished');
      return;
    }
    expect(res.statusCode, res.body).toBe(201);
    await until(async () => requestsFor(late.phones).length === 1);
  });
});

describe('mailout approval', { timeout: 90_000 }, () => {
  it('when the workspace has a manager, then approval is needed, self-approval and stale versions are refused', async () => {
    await svc.db.query(
      `INSERT INTO reps (name, email, time_zone, role, slack_user_id) VALUES
       ('Mia Manager', 'mia@acme.com', 'Europe/Moscow', 'manager', 'UMANAGER1'),
       ('Ray Rep', 'ray@acme.com', 'Europe/Moscow', 'rep', 'UREP0001')`,
    );
    try {
      const { tag } = await customers(['Europe/Moscow']);
      const own = await create({ filter: { tags: [tag] }, created_by: 'UMANAGER1' });
      expect(own.status).toBe('pending_approval');
      const self = await svc.web.inject({
        method: 'POST',
        url: `/v1/mailouts/${own.id}/approve`,
        headers: auth,
        payload: { approved_by: 'UMANAGER1', version: own.version },
      });
      expect(self.statusCode).toBe(403);
      expect(self.json().detail).toMatch(/own/);

      const m = await create({
        filter: { tags: [tag] },
        created_by: 'UREP0001',
        starts_at: new Date(Date.now() + 3_600_000).toISOString(),
        ends_at: new Date(Date.now() + 7_200_000).toISOString(),
      });
      const edited = await svc.web.inject({
        method: 'PATCH',
        url: `/v1/mailouts/${m.id}`,
        headers: auth,
        payload: { text: 'New text' },
      });
      expect(edited.json()).toMatchObject({ version: 2, status: 'pending_approval' });
      const stale = await svc.web.inject({
        method: 'POST',
        url: `/v1/mailouts/${m.id}/approve`,
        headers: auth,
        payload: { approved_by: 'UMANAGER1', version: 1 },
      });
      expect(stale.statusCode).toBe(409);
      expect(stale.json().errors[0].field).toBe('version');
      const notManager = await svc.web.inject({
        method: 'POST',
        url: `/v1/mailouts/${m.id}/approve`,
        headers: auth,
        payload: { approved_by: 'UREP0001', version: 2 },
      });
      expect(notManager.statusCode).toBe(403);
      const ok = await svc.web.inject({
        method: 'POST',
        url: `/v1/mailouts/${m.id}/approve`,
        headers: auth,
        payload: { approved_by: 'UMANAGER1', version: 2 },
      });
      expect(ok.json()).toMatchObject({ status: 'scheduled', approved_by: 'UMANAGER1', approved_version: 2 });
      const { rows } = await svc.db.query('SELECT action FROM audit_log WHERE subject = $1 ORDER BY id', [
        `mailout:${m.id}`,
      ]);
      expect(rows.map((r) => r.action)).toEqual([
        'mailout.pending_approval',
        'mailout.pending_approval',
        'mailout.scheduled',
      ]);
      const del = await svc.web.inject({ method: 'DELETE', url: `/v1/mailouts/${m.id}`, headers: auth });
      expect(del.statusCode).toBe(204);
      const list = (await svc.web.inject({ method: 'GET', url: '/v1/mailouts', headers: auth })).json();
      expect(list.mailouts.map((x: { id: number }) => x.id)).not.toContain(m.id);
    } finally {
      await svc.db.query("DELETE FROM reps WHERE slack_user_id IN ('UMANAGER1', 'UREP0001')");
    }
  });
});

describe('audience preview and token warning', { timeout: 90_000 }, () => {
  it('when previewing a filter, then matching customers are counted by zone with who is in the window now', async () => {
    const { tag } = await customers(['Asia/Kolkata', 'Asia/Kolkata', 'America/New_York']);
    const window = windowIn('Asia/Kolkata', true);
    const res = await svc.web.inject({
      method: 'GET',
      url: `/v1/mailouts/preview?operator_codes=999,916&tags=${tag}&window_from=${window.from}&window_to=${window.to}`,
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      total: 3,
      in_window_now: 2,
      by_time_zone: [
        { time_zone: 'Asia/Kolkata', count: 2, in_window_now: true },
        { time_zone: 'America/New_York', count: 1, in_window_now: false },
      ],
    });
    const none = await svc.web.inject({
      method: 'GET',
      url: `/v1/mailouts/preview?operator_codes=111&tags=${tag}`,
      headers: auth,
    });
    expect(none.json()).toMatchObject({ total: 0, in_window_now: 0 });
    const bad = await svc.web.inject({
      method: 'GET',
      url: '/v1/mailouts/preview?operator_codes=9x',
      headers: auth,
    });
    expect(bad.statusCode).toBe(400);
  });

  it('when the send API token expires within 7 days, then the alert channel is warned', async () => {
    const handlers = mailoutJobHandlers({
      engine: svc.mailouts.engine,
      alerts: svc.alerts,
      clock: { now: () => new Date() },
      token: fakeJwt(Math.floor(Date.now() / 1000) + 3 * 86_400 + 60),
      tokenWarnDays: 7,
    });
    const check = handlers.mailouts?.['send-api-token-check'];
    const result = await check?.({} as never, svc.log.logger);
    expect(result).toMatchObject({ days: 3, alerted: true });
    const { rows } = await svc.db.query("SELECT text FROM slack_posts WHERE kind = 'send-api-token'");
    expect(rows[0].text).toMatch(/expires in 3 day/);
    const fine = mailoutJobHandlers({
      engine: svc.mailouts.engine,
      alerts: svc.alerts,
      clock: { now: () => new Date() },
      token: env.SEND_API_TOKEN,
      tokenWarnDays: 7,
    });
    const quiet = await fine.mailouts?.['send-api-token-check']?.({} as never, svc.log.logger);
    expect(quiet).toMatchObject({ checked: true });
    expect(quiet).not.toHaveProperty('alerted');
  });
});
