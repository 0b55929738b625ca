import { DateTime } from 'luxon';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACTIONS } from '../../blocks/ids.ts';
import type { SmsGateway } from '../../src/mailouts/providers/sms-gateway.ts';
import { SmsGatewayError } from '../../src/mailouts/providers/sms-gateway.ts';
import { apiAuth, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import { blockAction, decodeSlackBody, fakeSlackApi, interaction, type SlackCall } from '../helpers/slack.ts';

const APPROVALS = 'C0PROGRESS';
const MESSAGES = 100_000;
/** Virtual milliseconds each send moves the service's clock: 100,000 sends span about 5 virtual minutes. */
const TICK_MS = 3;

let offset = 0;
const clock = { now: () => new Date(Date.now() + offset) };

/** The send API, in process and instant; 1% of phones are refused for good (the error summary). */
const gateway: SmsGateway = {
  name: 'virtual',
  async send(message) {
    offset += TICK_MS;
    if (message.phone.endsWith('00'))
      throw new SmsGatewayError('permanent', 'http_4xx', '400: bad phone', 400);
    return { status: 200 };
  },
  async close() {},
};

let svc: TestService;
let calls: SlackCall[];
const responses: Record<string, unknown>[] = [];

const parse = (call: SlackCall) => {
  for (const [key, value] of Object.entries(call.body)) {
    if (typeof value === 'string' && /^[[{]/.test(value)) {
      try {
        call.body[key] = JSON.parse(value);
      } catch {}
    }
  }
  return undefined;
};

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  calls = fakeSlackApi(parse);
  nock(SLACK_HOST)
    .persist()
    .post(/^\/actions\//)
    .reply((_uri, body) => {
      responses.push(decodeSlackBody(body));
      return [200, { ok: true }];
    });
  svc = await startTestService(
    {
      SEND_API_CONCURRENCY: '1000',
      MAILOUT_JOBS_PER_ZONE: '2',
      MAILOUT_WORKER_CONCURRENCY: '4',
    },
    'all',
    { clock, smsGateway: gateway },
  );
  await svc.db.query(`INSERT INTO settings (key, value) VALUES ('approvals_channel', $1)`, [
    JSON.stringify(APPROVALS),
  ]);
}, 60_000);

afterAll(async () => {
  await svc.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

/** Every message Slack got for the card (posts and edits, in order), with the instant each shows. */
function cardMessages(id: number) {
  return calls
    .filter(
      (c) =>
        (c.method === 'chat.postMessage' || c.method === 'chat.update') &&
        !c.body.thread_ts &&
        JSON.stringify(c.body.blocks ?? '').includes(`"mailout:${id}:request"`),
    )
    .map((c) => {
      const text = JSON.stringify(c.body.blocks);
      const updated = /Updated <!date\^\d+\^[^|]+\|([^>]+)>/.exec(text)?.[1];
      const sent = /\*Sent\* ([\d,]+)/.exec(text)?.[1];
      return {
        method: c.method,
        at: updated ? new Date(updated).getTime() : Number.NaN,
        sent: sent ? Number(sent.replaceAll(',', '')) : -1,
        finished: text.includes('Finished: ') || text.includes('*finished*'),
        text,
      };
    });
}

describe('progress card under a 100,000-message mailout', () => {
  it('when it runs, then its card is edited in place at most once per 30 s (virtual time) and once at the end, with the error summary in its thread', async () => {
    await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone)
         SELECT '7900' || lpad(g::text, 7, '0'), '900', 'bulk',
                (ARRAY['Europe/Moscow', 'Asia/Kolkata', 'America/New_York', 'Asia/Tokyo'])[1 + g % 4]
         FROM generate_series(1, $1::int) g`,
      [MESSAGES],
    );
    const auth = await apiAuth(svc);
    const created = await svc.web.inject({
      method: 'POST',
      url: '/v1/mailouts',
      headers: auth,
      payload: {
        name: 'Bulk',
        text: 'Hello',
        starts_at: new Date(clock.now().getTime() - 1000).toISOString(),
        ends_at: new Date(clock.now().getTime() + 7 * 86_400_000).toISOString(),
        filter: { tags: ['bulk'] },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    // No manager in this workspace: approved on creation, so the card is new when it starts.
    const id = created.json().id as number;
    await vi.waitFor(
      async () => {
        const { rows } = await svc.db.query('SELECT status::text FROM mailouts WHERE id = $1', [id]);
        expect(rows[0].status).toBe('finished');
      },
      { timeout: 300_000, interval: 500 },
    );
    const final = await vi.waitFor(
      () => {
        const last = cardMessages(id).at(-1);
        expect(last?.finished).toBe(true);
        return last as ReturnType<typeof cardMessages>[number];
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(final.text).toContain('*Sent* 99,000 · *Failed* 1,000 · *Expired* 0 · *Pending* 0 of 100,000');
    expect(final.text).not.toContain(ACTIONS.mailoutPause);

    const messages = cardMessages(id);
    expect(messages[0]?.method).toBe('chat.postMessage');
    expect(messages.slice(1).every((m) => m.method === 'chat.update')).toBe(true);
    const { rows } = await svc.db.query(`SELECT channel_id, ts, revision FROM slack_posts WHERE key = $1`, [
      `mailout:${id}`,
    ]);
    for (const update of calls.filter(
      (c) => c.method === 'chat.update' && JSON.stringify(c.body.blocks).includes(`"mailout:${id}:request"`),
    )) {
      expect(update.body).toMatchObject({ channel: rows[0].channel_id, ts: rows[0].ts });
    }

    // The sending took this long on the virtual clock; edits while it ran are 30 s apart at least.
    const span = await svc.db.query(
      `SELECT extract(epoch FROM max(sent_at) - min(sent_at)) * 1000 AS ms FROM mailout_messages WHERE mailout_id = $1`,
      [id],
    );
    const virtualMs = Number(span.rows[0].ms);
    expect(virtualMs).toBeGreaterThan(120_000);
    const running = messages.filter((m) => !m.finished);
    expect(running.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < running.length; i++) {
      expect((running[i]?.at ?? 0) - (running[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(30_000);
      expect(running[i]?.sent ?? 0).toBeGreaterThanOrEqual(running[i - 1]?.sent ?? 0);
    }
    // Renders (revisions of the one post) and Slack edits: at most one per 30 s window plus start and end.
    const bound = Math.floor(virtualMs / 30_000) + 3;
    expect(rows[0].revision).toBeLessThanOrEqual(bound);
    expect(messages.length).toBeLessThanOrEqual(bound);

    const reply = await vi.waitFor(
      () => {
        const c = calls.find((x) => x.method === 'chat.postMessage' && x.body.thread_ts === rows[0].ts);
        expect(c).toBeDefined();
        return c as SlackCall;
      },
      { timeout: 30_000 },
    );
    expect(JSON.stringify(reply.body.blocks)).toContain('1,000 × `400: bad phone`');
  }, 400_000);

  it('when the send API circuit opens, then each running mailout gets a threaded reply under its card', async () => {
    await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone)
       SELECT '7950' || lpad(g::text, 7, '0'), '950', 'late', (ARRAY['Europe/Moscow', 'Asia/Kolkata', 'America/New_York', 'Asia/Tokyo'])[1 + g % 4]
       FROM generate_series(1, 8) g`,
    );
    // An hour starting 12 h from now in Moscow: not open now in any of the four zones.
    const from = DateTime.fromJSDate(clock.now(), { zone: 'Europe/Moscow' }).plus({ hours: 12 });
    const created = await svc.web.inject({
      method: 'POST',
      url: '/v1/mailouts',
      headers: await apiAuth(svc),
      payload: {
        name: 'Waiting',
        text: 'Hello',
        starts_at: new Date(clock.now().getTime() - 1000).toISOString(),
        ends_at: new Date(clock.now().getTime() + 86_400_000).toISOString(),
        // A window that never contains now: the mailout runs but waits for it.
        window: { from: from.toFormat('HH:mm'), to: from.plus({ hours: 1 }).toFormat('HH:mm') },
        filter: { tags: ['late'] },
      },
    });
    const id = created.json().id as number;
    const card = await vi.waitFor(
      async () => {
        const { rows } = await svc.db.query(`SELECT ts FROM slack_posts WHERE key = $1 AND ts IS NOT NULL`, [
          `mailout:${id}`,
        ]);
        expect(rows[0]).toBeDefined();
        return rows[0] as { ts: string };
      },
      { timeout: 60_000, interval: 200 },
    );
    await svc.mailouts.cards?.onCircuitChange('open', '503: upstream down');
    const reply = await vi.waitFor(
      () => {
        const c = calls.find((x) => x.method === 'chat.postMessage' && x.body.thread_ts === card.ts);
        expect(c).toBeDefined();
        return c as SlackCall;
      },
      { timeout: 30_000 },
    );
    expect(String(reply.body.text)).toContain('Send API is failing');

    // A person other than a manager or the author may not pause it; the author's API key is not a Slack user.
    await interaction(
      svc.web,
      blockAction('UNOBODY001', { action_id: ACTIONS.mailoutPause, value: String(id) }),
    );
    await vi.waitFor(() => expect(responses.length).toBe(1));
    expect(String(responses[0]?.text)).toMatch(/Only managers and the author/);
    const { rows } = await svc.db.query('SELECT status::text FROM mailouts WHERE id = $1', [id]);
    expect(rows[0].status).toBe('running');
  }, 120_000);
});
