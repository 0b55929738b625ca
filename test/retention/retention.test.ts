import { type Queue, QueueEvents } from 'bullmq';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { jobHandlers } from '../../src/jobs/handlers.ts';
import { createRedis } from '../../src/jobs/queues.ts';
import { SCHEDULES } from '../../src/jobs/schedules.ts';
import { startWorkers } from '../../src/jobs/workers.ts';
import { createRetentionMetric, RetentionPurger } from '../../src/retention/retention.purger.ts';
import { RETENTION, type RetentionRule } from '../../src/retention/retention.ts';
import { systemClock } from '../../src/shared/time.ts';
import { apiAuth, startTestService, type TestService, testEnv } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // The web role only: no worker sends the seeded messages and no sweeper touches them.
  svc = await startTestService({ RETENTION_SLACK_POSTS_DAYS: '7' }, 'web');
  auth = await apiAuth(svc);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await svc.close();
});

const q = (sql: string, params: unknown[] = []) => svc.db.query(sql, params);
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

async function seedRep(): Promise<string> {
  const { rows } = await q(`INSERT INTO reps (name, email, time_zone) VALUES ('R', $1, 'UTC') RETURNING id`, [
    `rep-${Math.random().toString(36).slice(2)}@acme.test`,
  ]);
  return rows[0].id;
}

/** A message created, last changed and with its events at the given ages (days). */
async function seedMessage(
  label: string,
  o: { created: number; events: number[]; status?: string; key?: string },
) {
  const { rows } = await q(
    `INSERT INTO messages (kind, status, from_address, "to", subject, created_at, updated_at, idempotency_key, api_key_id, request_hash)
     VALUES ('api', $1, '{"email":"a@acme.test"}', '[{"email":"b@acme.test"}]', $2, $3, $3, $4, $5, $6) RETURNING id`,
    [
      o.status ?? 'delivered',
      label,
      ago(o.created),
      o.key ?? null,
      o.key ? '00000000-0000-4000-8000-000000000001' : null,
      o.key ? 'hash' : null,
    ],
  );
  for (const [i, age] of o.events.entries()) {
    await q(`INSERT INTO message_events (message_id, type, at) VALUES ($1, $2, $3)`, [
      rows[0].id,
      `e${i}`,
      ago(age),
    ]);
  }
  return rows[0].id as string;
}

const subjects = async () =>
  (await q('SELECT subject FROM messages ORDER BY subject')).rows.map((r) => r.subject as string);

describe('retention purge', () => {
  it('when the purge runs, then rows past each table retention go in small batches, newer rows stay, and the metric counts them', async () => {
    const repId = await seedRep();
    for (const n of [1, 2, 3, 4]) await seedMessage(`old-${n}`, { created: 120, events: [120, 100] });
    await seedMessage('old-but-opened-lately', { created: 120, events: [120, 10] });
    await seedMessage('old-still-queued', { created: 120, events: [120], status: 'queued' });
    await seedMessage('recent', { created: 5, events: [5] });
    await seedMessage('key-25h', { created: 25 / 24, events: [1], key: 'k-old' });
    await seedMessage('key-23h', { created: 23 / 24, events: [0.9], key: 'k-new' });
    await q(
      `INSERT INTO slack_posts (kind, channel, text, created_at) VALUES ('a', 'C1', 'old', $1), ('a', 'C1', 'new', $2)`,
      [ago(8), ago(6)],
    );
    await q(
      `INSERT INTO briefings (rep_id, local_date, time_zone, prepare_at, deliver_at, cutoff_at, created_at)
       VALUES ($1, 'old', 'UTC', $2, $2, $2, $2), ($1, 'new', 'UTC', $3, $3, $3, $3)`,
      [repId, ago(31), ago(29)],
    );
    await q(
      `INSERT INTO calendar_events (rep_id, external_id, starts_at, ends_at) VALUES
       ($1, 'ended-31d', $2, $3), ($1, 'ended-29d', $4, $5), ($1, 'tomorrow', $6, $7)`,
      [repId, ago(31.1), ago(31), ago(29.1), ago(29), ago(-1), ago(-1.1)],
    );
    await q(
      `INSERT INTO provider_swaps (provider, state, reason, actor, at) VALUES ('smtp', 'open', 'old', 's', $1), ('smtp', 'open', 'new', 's', $2)`,
      [ago(366), ago(364)],
    );
    await q(
      `INSERT INTO stats_runs (target_kind, target_id, local_date, created_at) VALUES
       ('channel', gen_random_uuid(), '2026-01-01', $1), ('channel', gen_random_uuid(), '2026-01-02', $2)`,
      [ago(91), ago(89)],
    );
    await q(`INSERT INTO audit_log (actor, action, at) VALUES ('t', 'old', $1), ('t', 'new', $2)`, [
      ago(366),
      ago(364),
    ]);
    // Mailouts: messages and attempts go 180 days after their mailout ended, however old they are.
    const mailoutIds = await q(
      `INSERT INTO mailouts (name, text, starts_at, ends_at, ended_at, created_by, status) VALUES
       ('ended-181d', 't', $1, $2, $2, 't', 'finished'), ('ended-10d', 't', $1, $3, NULL, 't', 'expired')
       RETURNING id`,
      [ago(206), ago(181), ago(10)],
    );
    const [endedLongAgo, endedLately] = mailoutIds.rows.map((r) => r.id as string);
    const mailoutMessages = await q(
      `INSERT INTO mailout_messages (mailout_id, customer_id, time_zone, operator_code, status, created_at) VALUES
       ($1, 1, 'UTC', '916', 'sent', $3), ($2, 2, 'UTC', '916', 'sent', $3) RETURNING id`,
      [endedLongAgo, endedLately, ago(205)],
    );
    await q(
      `INSERT INTO mailout_message_attempts (message_id, at, status_code, latency_ms, outcome)
       SELECT id, $1, 200, 20, 'sent' FROM mailout_messages WHERE id = ANY($2::bigint[])`,
      [ago(205), mailoutMessages.rows.map((r) => r.id)],
    );
    await q(
      `INSERT INTO audit_log (actor, action, at) VALUES ('t', 'customer.update', $1), ('t', 'customer.create', $2)`,
      [ago(181), ago(10)],
    );
    const service = await q(`INSERT INTO services (name, duration_minutes) VALUES ('Demo', 30) RETURNING id`);
    await q(
      `INSERT INTO appointments (rep_id, service_id, attendee, starts_at, ends_at, status, created_by, location) VALUES
       ($1, $2, '{}', $3, $4, 'completed', 't', 'ended-731d'), ($1, $2, '{}', $5, $6, 'cancelled', 't', 'ended-729d'),
       ($1, $2, '{}', $7, $8, 'cancelled', 't', 'next-week')`,
      [repId, service.rows[0].id, ago(731.1), ago(731), ago(729.1), ago(729), ago(-7), ago(-7.1)],
    );

    // Admin sessions: a day after they expired.
    await q(
      `INSERT INTO admin_sessions (id, issuer, subject, actor, name, time_zone, csrf_token, expires_at) VALUES
       ('expired-2d', 'i', 's', 'U1', 'n', 'UTC', 'c', $1), ('expired-12h', 'i', 's', 'U1', 'n', 'UTC', 'c', $2),
       ('live', 'i', 's', 'U1', 'n', 'UTC', 'c', $3)`,
      [ago(2), ago(0.5), ago(-0.5)],
    );

    const registry = new client.Registry();
    const metric = createRetentionMetric(registry);
    const purger = new RetentionPurger(svc.db, svc.config.retention, systemClock, metric, { batchSize: 2 });
    const logged: unknown[] = [];
    const logger = { info: (...args: unknown[]) => logged.push(args) } as never;

    const counts = await purger.purgeAll(logger);

    expect(counts).toEqual({
      messages: 4,
      message_events: 8,
      idempotency_keys: 1,
      slack_posts: 1,
      briefings: 1,
      calendar_events: 1,
      sequence_enrollments: 0,
      sequence_sends_of_enrollments: 0,
      sequence_sends: 0,
      provider_swaps: 1,
      stats_runs: 1,
      appointments: 1,
      admin_sessions: 1,
      audit_log: 1,
      mailout_messages: 1,
      mailout_message_attempts: 1,
      customer_audit: 1,
    });
    expect((await q('SELECT id FROM admin_sessions ORDER BY id')).rows.map((r) => r.id)).toEqual([
      'expired-12h',
      'live',
    ]);
    const keptMailoutRows = await q(
      `SELECT (SELECT array_agg(mailout_id::text) FROM mailout_messages) AS messages,
              (SELECT count(*)::int FROM mailout_message_attempts) AS attempts,
              (SELECT array_agg(action) FROM audit_log WHERE action LIKE 'customer.%') AS audit`,
    );
    expect(keptMailoutRows.rows[0]).toEqual({
      messages: [endedLately],
      attempts: 1,
      audit: ['customer.create'],
    });
    expect(await subjects()).toEqual([
      'key-23h',
      'key-25h',
      'old-but-opened-lately',
      'old-still-queued',
      'recent',
    ]);
    const orphans = await q(
      'SELECT count(*)::int AS n FROM message_events WHERE message_id NOT IN (SELECT id FROM messages)',
    );
    expect(orphans.rows[0].n).toBe(0);
    const keys = await q(
      `SELECT subject, idempotency_key, request_hash FROM messages WHERE subject LIKE 'key-%' ORDER BY subject`,
    );
    expect(keys.rows).toEqual([
      { subject: 'key-23h', idempotency_key: 'k-new', request_hash: 'hash' },
      { subject: 'key-25h', idempotency_key: null, request_hash: null },
    ]);
    expect((await q(`SELECT text FROM slack_posts`)).rows).toEqual([{ text: 'new' }]);
    expect((await q(`SELECT local_date FROM briefings`)).rows).toEqual([{ local_date: 'new' }]);
    expect(
      (await q(`SELECT external_id FROM calendar_events ORDER BY external_id`)).rows.map(
        (r) => r.external_id,
      ),
    ).toEqual(['ended-29d', 'tomorrow']);
    expect((await q(`SELECT reason FROM provider_swaps`)).rows).toEqual([{ reason: 'new' }]);
    expect((await q(`SELECT action FROM audit_log WHERE actor = 't' ORDER BY action`)).rows).toEqual([
      { action: 'customer.create' },
      { action: 'new' },
    ]);
    expect(
      (await q(`SELECT location FROM appointments ORDER BY location`)).rows.map((r) => r.location),
    ).toEqual(['ended-729d', 'next-week']);

    const values = Object.fromEntries((await metric.get()).values.map((v) => [v.labels.table, v.value]));
    // The metric has a sample only for tables something was purged from (no sequences seeded here).
    expect(values).toEqual(Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)));

    // A second run finds nothing left to do.
    const again = await purger.purgeAll(logger);
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });

  it('when more rows are due than one run allows, then each run purges at most its batches and the next run goes on', async () => {
    for (let n = 0; n < 5; n += 1)
      await q(
        `INSERT INTO provider_swaps (provider, state, reason, actor, at) VALUES ('x', 'open', 'bulk', 's', $1)`,
        [ago(400)],
      );
    const metric = createRetentionMetric(new client.Registry());
    const purger = new RetentionPurger(svc.db, svc.config.retention, systemClock, metric, {
      batchSize: 2,
      maxBatches: 2,
    });
    const rule = RETENTION.find((r) => r.name === 'provider_swaps') as RetentionRule;
    expect(await purger.purge(rule, ago(365))).toEqual({ rows: 4, cascaded: 0, batches: 2 });
    expect(await purger.purge(rule, ago(365))).toEqual({ rows: 1, cascaded: 0, batches: 1 });
  });

  it('when the scheduled retention job runs on the maintenance queue, then it purges and returns the counts', async () => {
    expect(SCHEDULES.find((s) => s.name === 'retention-purge')).toMatchObject({
      queue: 'maintenance',
      job: 'retention-purge',
    });
    await q(`INSERT INTO audit_log (actor, action, at) VALUES ('job', 'old', $1)`, [ago(400)]);
    const connection = createRedis(svc.config.redisUrl, 'worker');
    closers.push(() => connection.quit());
    const purger = new RetentionPurger(
      svc.db,
      svc.config.retention,
      systemClock,
      createRetentionMetric(new client.Registry()),
    );
    const pool = startWorkers({
      connection,
      prefix: svc.config.queuePrefix,
      logger: svc.log.logger,
      handlers: jobHandlers({ retention: purger }),
    });
    closers.push(() => pool.close(1_000));
    const events = new QueueEvents('maintenance', {
      connection: { url: svc.config.redisUrl },
      prefix: svc.config.queuePrefix,
    });
    closers.push(() => events.close());
    await events.waitUntilReady();
    const queue: Queue = svc.queues.get('maintenance');
    const job = await queue.add('retention-purge', {}, { jobId: 'retention-test' });
    const result = (await job.waitUntilFinished(events, 15_000)) as { purged: Record<string, number> };
    expect(result.purged.audit_log).toBe(1);
    expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE actor = 'job'`)).rows[0].n).toBe(0);
  });

  it('when a rule is listed, then its table has an index leading with the age column', async () => {
    const rules: readonly RetentionRule[] = RETENTION;
    for (const rule of rules) {
      const { rows } = await q(
        `SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexdef ~ ('USING btree \\(' || $2 || '[,)]')`,
        [rule.table, rule.age],
      );
      expect(rows.length, `${rule.table}.${rule.age}`).toBeGreaterThan(0);
    }
  });
});

describe('retention configuration', () => {
  it('when nothing is set, then each table keeps its documented default; a variable overrides it; a bad one is named', () => {
    expect(loadConfig(testEnv()).retention).toEqual({
      messages: 90,
      idempotency_keys: 1,
      slack_posts: 30,
      briefings: 30,
      calendar_events: 30,
      sequence_enrollments: 365,
      sequence_sends: 180,
      provider_swaps: 365,
      stats_runs: 90,
      appointments: 730,
      admin_sessions: 1,
      audit_log: 365,
      mailout_messages: 180,
      mailout_message_attempts: 180,
      customer_audit: 180,
    });
    expect(svc.config.retention.slack_posts).toBe(7);
    expect(loadConfig(testEnv({ RETENTION_IDEMPOTENCY_KEYS_DAYS: '0.5' })).retention.idempotency_keys).toBe(
      0.5,
    );
    const failure = (env: Record<string, string>) => {
      try {
        loadConfig(testEnv(env));
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error('loadConfig accepted a bad value');
    };
    expect(failure({ RETENTION_MESSAGES_DAYS: '-3' })).toBeInstanceOf(ConfigError);
    expect(failure({ RETENTION_MESSAGES_DAYS: '-3' }).problems).toEqual([
      expect.stringMatching(/^RETENTION_MESSAGES_DAYS: .*\(got "-3"\)$/),
    ]);
    // Problems in the retention variables are listed together with every other bad variable.
    expect(failure({ RETENTION_BRIEFINGS_DAYS: 'soon', PORT: 'x' }).problems).toEqual([
      expect.stringMatching(/^PORT: /),
      expect.stringMatching(/^RETENTION_BRIEFINGS_DAYS: /),
    ]);
  });

  it('when calendar events are kept less long than CALENDAR_HISTORY_DAYS, then the mirror reaches back only as far as the retention', () => {
    expect(svc.config.calendars.historyDays).toBe(90);
    const now = new Date('2026-03-10T12:00:00Z');
    expect(svc.briefings.sync.window(now).start.toISOString()).toBe('2026-02-08T00:00:00.000Z');
  });
});

describe('idempotency keys', () => {
  const post = (payload: object, key: string) =>
    svc.web.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth, 'idempotency-key': key },
      payload,
    });
  const body = { to: ['ana@client.test'], subject: 'Invoice', text: 'Attached.' };

  it('when the same key comes back within 24 h, then it is the same message; after 24 h, it is a new one', async () => {
    const first = await post(body, 'invoice-1001');
    expect(first.statusCode).toBe(202);
    const replay = await post(body, 'invoice-1001');
    expect(replay.json().id).toBe(first.json().id);
    expect((await post({ ...body, subject: 'Other' }, 'invoice-1001')).statusCode).toBe(409);

    // 25 hours later (the purge has not run yet): the key names a new message.
    await q(`UPDATE messages SET created_at = now() - interval '25 hours' WHERE id = $1`, [first.json().id]);
    const later = await post({ ...body, subject: 'Another invoice' }, 'invoice-1001');
    expect(later.statusCode).toBe(202);
    expect(later.json().id).not.toBe(first.json().id);
    const rows = await q(
      `SELECT id, idempotency_key FROM messages WHERE id = ANY($1::uuid[]) ORDER BY created_at`,
      [[first.json().id, later.json().id]],
    );
    expect(rows.rows).toEqual([
      { id: first.json().id, idempotency_key: null },
      { id: later.json().id, idempotency_key: 'invoice-1001' },
    ]);
    // And the new message is what the key names from now on.
    expect((await post({ ...body, subject: 'Another invoice' }, 'invoice-1001')).json().id).toBe(
      later.json().id,
    );
  });
});
