import { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import client from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRetentionMetric, RetentionPurger } from '../../src/retention/retention.purger.ts';
import { RETENTION, type RetentionRule } from '../../src/retention/retention.ts';
import { isSendingTime } from '../../src/sequences/sending-window.ts';
import { sendJobIdFor } from '../../src/sequences/sequence.module.ts';
import { planSends } from '../../src/sequences/sequence.planner.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let now = new Date('2026-03-02T15:00:00Z');
const clock = { now: () => now };
const actor = 'test';

beforeAll(async () => {
  svc = await startTestService({ PUBLIC_URL: 'https://briefly.test' }, 'web', { clock });
  redisClient = new Redis(svc.config.redisUrl);
});
afterAll(async () => {
  redisClient.disconnect();
  await svc.close();
});

beforeEach(async () => {
  await svc.db.query('TRUNCATE sequences, contacts, mailboxes, sequence_sends CASCADE');
  await svc.db.query("DELETE FROM messages WHERE kind = 'sequence'");
  const keys = await redisKeys();
  if (keys.length) await redisClient.del(...keys);
});

let redisClient: Redis;
const redis = async () => redisClient;
async function redisKeys(): Promise<string[]> {
  return redisClient.keys(`${svc.config.queuePrefix}:seq:sent:*`);
}

async function setup(opts: {
  dailyLimit?: number;
  warmup?: { start_limit: number; daily_increase: number };
  contacts?: number;
  contactZone?: string | null;
  sequenceZone?: string;
  window?: { from: string; to: string };
  days?: number[];
  steps?: { delay_days: number; subject: string; body: string }[];
}) {
  const repo = svc.sequences.repo;
  const mailbox = await repo.createMailbox(
    {
      email: `rep${Math.random().toString(36).slice(2, 8)}@acme.test`,
      display_name: 'Ana Rep',
      daily_limit: opts.dailyLimit ?? 50,
      warmup: opts.warmup,
      status: 'active',
    },
    actor,
    now,
  );
  const { created } = await repo.createContacts(
    Array.from({ length: opts.contacts ?? 1 }, (_, i) => ({
      email: `lead${i}@prospect.test`,
      first_name: `Lead${i}`,
      last_name: 'Doe',
      company: 'Prospect & Co',
      time_zone: opts.contactZone === undefined ? null : opts.contactZone,
      fields: { plan: 'pro' },
    })),
    actor,
  );
  const sequence = await repo.createSequence(
    {
      name: 'Outbound',
      window: opts.window ?? { from: '09:00', to: '17:00' },
      days: opts.days ?? [1, 2, 3, 4, 5, 6, 7],
      time_zone: opts.sequenceZone ?? 'America/New_York',
      status: 'active',
      mailbox_ids: [mailbox.id],
      steps: opts.steps ?? [
        {
          delay_days: 0,
          subject: 'Hello {{first_name}}',
          body: 'Hi {{first_name}} at {{company}}, plan {{fields.plan}}',
        },
        { delay_days: 3, subject: 'ignored for replies', body: 'Following up, {{first_name}}' },
      ],
    },
    actor,
  );
  const enrolled = await repo.enroll(
    sequence.id,
    created.map((c) => c.id),
    now,
    actor,
  );
  return { mailbox, sequence, contacts: created, enrollments: enrolled.enrolled };
}

/** Runs every planned send whose time has come, in order, moving the clock to each. */
async function runPlanned(until: Date) {
  const outcomes = [];
  for (;;) {
    const { rows } = await svc.db.query(
      `SELECT id, planned_at FROM sequence_contacts WHERE planned_at IS NOT NULL AND planned_at <= $1
       AND status = 'active' ORDER BY planned_at LIMIT 1`,
      [until],
    );
    if (!rows[0]) return outcomes;
    now = rows[0].planned_at;
    outcomes.push(await svc.sequences.sendNow(rows[0].id));
  }
}

describe('sequence planner and sender', () => {
  it('when 30 contacts are due and the mailbox may send 10 a day, then 10 are planned inside the window, spread, oldest first', async () => {
    now = new Date('2026-03-02T14:00:00Z'); // 09:00 in New York
    const { enrollments } = await setup({ dailyLimit: 10, contacts: 30 });
    // Make the order explicit: the first enrolled is the oldest.
    await svc.db.query(
      `UPDATE sequence_contacts SET next_send_at = $1::timestamptz - (interval '1 minute' * rn)
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM sequence_contacts) o WHERE o.id = sequence_contacts.id`,
      [now],
    );
    const planned = await svc.sequences.planNow();
    expect(planned).toBe(10);
    const { rows } = await svc.db.query(
      'SELECT id, planned_at FROM sequence_contacts WHERE planned_at IS NOT NULL ORDER BY planned_at',
    );
    const oldest = await svc.db.query('SELECT id FROM sequence_contacts ORDER BY next_send_at LIMIT 10');
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(oldest.rows.map((r) => r.id)));
    const hours = {
      zone: 'America/New_York',
      window: { from: '09:00', to: '17:00' },
      days: [1, 2, 3, 4, 5, 6, 7],
    };
    for (const r of rows) expect(isSendingTime(r.planned_at, hours)).toBe(true);
    // Spread over the 8-hour window: first and last far apart, no two in the same minute.
    const times = rows.map((r) => r.planned_at.getTime());
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThan(5 * 3_600_000);
    expect(new Set(times.map((t) => Math.floor(t / 60_000))).size).toBe(10);
    expect(enrollments).toHaveLength(30);
  });

  it('when Redis loses the day counter mid-day, then it is rebuilt from PostgreSQL and the cap still holds', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments } = await setup({ dailyLimit: 4, contacts: 8 });
    await svc.sequences.planNow();
    const first = await runPlanned(new Date('2026-03-02T17:00:00Z'));
    const sentBefore = first.filter((o) => o.status === 'sent').length;
    expect(sentBefore).toBeGreaterThan(0);
    const keys = await redisKeys();
    expect(keys).toHaveLength(1);
    await (await redis()).del(...keys);
    // Force every enrollment into a plan now, as a buggy or concurrent planner might.
    await svc.db.query(
      `UPDATE sequence_contacts SET planned_at = $1 WHERE status = 'active' AND current_step = 0`,
      [new Date('2026-03-02T18:00:00Z')],
    );
    const outcomes = await runPlanned(new Date('2026-03-02T21:00:00Z'));
    const sent = await svc.db.query('SELECT count(*)::int AS n FROM sequence_sends');
    expect(sent.rows[0].n).toBe(4);
    expect(sentBefore).toBe(2);
    expect(outcomes.filter((o) => o.status === 'rescheduled' && o.reason === 'over_cap').length).toBe(4);
    expect(Number(await (await redis()).get(keys[0] as string))).toBe(4);
    expect(enrollments).toHaveLength(8);
  });

  it('when a mailbox warms up from 2 a day by 3 a day, then days 0, 1, 2 send 2, 5, 8 (daily limit 20)', async () => {
    now = new Date('2026-03-02T13:00:00Z');
    await setup({
      dailyLimit: 20,
      warmup: { start_limit: 2, daily_increase: 3 },
      contacts: 30,
      steps: [{ delay_days: 0, subject: 'Hi {{first_name}}', body: 'Hello' }],
    });
    const perDay: number[] = [];
    for (let day = 0; day < 3; day++) {
      now = new Date(Date.parse('2026-03-02T13:30:00Z') + day * 86_400_000);
      await svc.sequences.planNow();
      await runPlanned(new Date(Date.parse('2026-03-02T23:59:00Z') + day * 86_400_000));
      const { rows } = await svc.db.query(
        `SELECT count(*)::int AS n FROM sequence_sends WHERE sent_at >= $1 AND sent_at < $2`,
        [
          new Date(Date.parse('2026-03-02T00:00:00Z') + day * 86_400_000),
          new Date(Date.parse('2026-03-03T00:00:00Z') + day * 86_400_000),
        ],
      );
      perDay.push(rows[0].n);
    }
    expect(perDay).toEqual([2, 5, 8]);
  });

  it("when the contact's zone crosses the spring DST switch, then sends stay inside 09:00-10:00 local time before and after", async () => {
    // Europe/Berlin switches on 2026-03-29; step 2 three days later lands after the switch.
    now = new Date('2026-03-27T06:00:00Z');
    await setup({
      contactZone: 'Europe/Berlin',
      window: { from: '09:00', to: '10:00' },
      steps: [
        { delay_days: 0, subject: 'Hi', body: 'One' },
        { delay_days: 3, subject: 'x', body: 'Two' },
      ],
    });
    await svc.sequences.planNow();
    await runPlanned(new Date('2026-03-27T23:00:00Z'));
    now = new Date('2026-03-30T05:00:00Z');
    await svc.sequences.planNow();
    await runPlanned(new Date('2026-03-30T23:00:00Z'));
    const { rows } = await svc.db.query('SELECT step, sent_at FROM sequence_sends ORDER BY step');
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      const local = DateTime.fromJSDate(r.sent_at, { zone: 'Europe/Berlin' });
      expect(local.hour).toBe(9);
    }
    expect(DateTime.fromJSDate(rows[1].sent_at, { zone: 'Europe/Berlin' }).toISODate()).toBe('2026-03-30');
    expect(DateTime.fromJSDate(rows[1].sent_at, { zone: 'Europe/Berlin' }).offset).toBe(120);
  });

  it('when the job fires outside the window, then it is rescheduled to the next opening instead of sent', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments } = await setup({ window: { from: '09:00', to: '17:00' } });
    const id = enrollments[0]?.id as string;
    now = new Date('2026-03-02T23:30:00Z'); // 18:30 in New York
    await svc.db.query('UPDATE sequence_contacts SET planned_at = $1 WHERE id = $2', [now, id]);
    const outcome = await svc.sequences.sendNow(id);
    expect(outcome).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-03T14:00:00Z'),
      reason: 'outside_window',
    });
    expect((await svc.db.query('SELECT count(*)::int AS n FROM sequence_sends')).rows[0].n).toBe(0);
  });

  it('when step 2 is sent, then it replies in the thread of step 1 (In-Reply-To, References, "Re:") with one-click unsubscribe', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments } = await setup({});
    const id = enrollments[0]?.id as string;
    await svc.sequences.planNow();
    await runPlanned(new Date('2026-03-02T22:00:00Z'));
    const after1 = (await svc.db.query('SELECT * FROM sequence_contacts WHERE id = $1', [id])).rows[0];
    expect(after1.current_step).toBe(1);
    // Three calendar days later in New York, at the start of that local day.
    expect(after1.next_send_at).toEqual(new Date('2026-03-05T05:00:00Z'));
    now = new Date('2026-03-05T14:00:00Z');
    await svc.sequences.planNow();
    await runPlanned(new Date('2026-03-05T22:00:00Z'));
    const { rows } = await svc.db.query(
      `SELECT m.subject, m.headers, m.message_id_header, m.text, m.html, m.from_address, m.kind
       FROM sequence_sends s JOIN messages m ON m.id = s.message_id ORDER BY s.step`,
    );
    expect(rows).toHaveLength(2);
    const [one, two] = rows;
    expect(one.kind).toBe('sequence');
    expect(one.from_address.email).toMatch(/@acme\.test$/);
    expect(one.subject).toBe('Hello Lead0');
    expect(one.html).toContain('Prospect &amp; Co');
    expect(one.text).toContain('Prospect & Co, plan pro');
    expect(two.subject).toBe('Re: Hello Lead0');
    expect(two.headers['In-Reply-To']).toBe(one.message_id_header);
    expect(two.headers.References).toBe(one.message_id_header);
    expect(one.headers['List-Unsubscribe']).toMatch(/^<https:\/\/briefly\.test\/u\/[\w-]+\.[\w-]+>$/);
    expect(one.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(one.text).toContain('https://briefly.test/u/');
    const done = (await svc.db.query('SELECT * FROM sequence_contacts WHERE id = $1', [id])).rows[0];
    expect(done.status).toBe('completed');
    expect(done.next_send_at).toBeNull();
  });

  it('when an ended enrollment is past its retention, then it and its sends are purged; an active one stays', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments } = await setup({ contacts: 2 });
    await svc.sequences.planNow();
    await runPlanned(new Date('2026-03-02T22:00:00Z'));
    const [ended, active] = enrollments.map((e) => e.id);
    await svc.db.query(`UPDATE sequence_contacts SET status = 'replied', updated_at = $2 WHERE id = $1`, [
      ended,
      new Date('2025-01-01T00:00:00Z'),
    ]);
    await svc.db.query(`UPDATE sequence_contacts SET updated_at = $2 WHERE id = $1`, [
      active,
      new Date('2025-01-01T00:00:00Z'),
    ]);
    const rule = RETENTION.find((r) => r.name === 'sequence_enrollments') as RetentionRule;
    const purger = new RetentionPurger(
      svc.db,
      svc.config.retention,
      clock,
      createRetentionMetric(new client.Registry()),
    );
    const result = await purger.purge(rule, new Date('2026-01-01T00:00:00Z'));
    expect(result).toMatchObject({ rows: 1, cascaded: 1 });
    const left = await svc.db.query('SELECT enrollment_id FROM sequence_sends');
    expect(left.rows.map((r) => r.enrollment_id)).toEqual([active]);
  });

  it('when a step was replanned, then the job of the older plan sends nothing and the current one sends', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments } = await setup({});
    const id = enrollments[0]?.id as string;
    await svc.sequences.planNow();
    const first = (await svc.db.query('SELECT planned_at FROM sequence_contacts WHERE id = $1', [id])).rows[0]
      .planned_at;
    const later = new Date(first.getTime() + 3_600_000);
    await svc.db.query('UPDATE sequence_contacts SET planned_at = $2 WHERE id = $1', [id, later]);
    now = first;
    expect(await svc.sequences.sendNow(id, first.getTime())).toEqual({
      status: 'skipped',
      reason: 'replanned',
    });
    now = later;
    expect(await svc.sequences.sendNow(id, later.getTime())).toMatchObject({ status: 'sent', step: 1 });
  });

  it('when two planners run at once, then each enrollment is planned once', async () => {
    now = new Date('2026-03-02T14:00:00Z');
    await setup({ dailyLimit: 40, contacts: 60 });
    const [a, b] = await Promise.all([planSends(svc.db, now), planSends(svc.db, now)]);
    expect((a?.length ?? 0) + (b?.length ?? 0)).toBe(40);
    const ids = [...(a ?? []), ...(b ?? [])].map((p) => p.enrollmentId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("when a send finds the mailbox's day full, then it is rescheduled to the next window opening on an allowed day in the contact's zone (DST-exact), not handed back to the planner", async () => {
    // Friday 2026-03-06 09:00 in New York; weekdays only; New York springs forward on Sunday 03-08.
    now = new Date('2026-03-06T14:00:00Z');
    // Warm-up from 1 a day (by 1): Friday's day holds one send, the rolling 24 h limit (10) never binds.
    const { enrollments, contacts } = await setup({
      dailyLimit: 10,
      warmup: { start_limit: 1, daily_increase: 1 },
      contacts: 4,
      days: [1, 2, 3, 4, 5],
    });
    await svc.db.query(`UPDATE contacts SET time_zone = 'Asia/Kolkata' WHERE id = $1`, [contacts[3]?.id]);
    const kolkata = enrollments.find((e) => e.contact_id === contacts[3]?.id)?.id as string;
    expect(await svc.sequences.planNow()).toBe(1);
    const sent = await runPlanned(new Date('2026-03-06T22:00:00Z'));
    expect(sent.map((o) => o.status)).toEqual(['sent']);
    const [ny1, ny2] = (
      await svc.db.query('SELECT id FROM sequence_contacts WHERE current_step = 0 AND id <> $1 ORDER BY id', [
        kolkata,
      ])
    ).rows.map((r) => r.id as string);
    // A buggy or concurrent planner (or a cap lowered since) sends them into a full day.
    now = new Date('2026-03-06T20:00:00Z');
    await svc.db.query('UPDATE sequence_contacts SET planned_at = $1 WHERE id = ANY($2::uuid[])', [
      now,
      [ny1, ny2, kolkata],
    ]);
    const monday0900Edt = new Date('2026-03-09T13:00:00Z'); // not 14:00Z: EDT since Sunday
    expect(await svc.sequences.sendNow(ny1 as string)).toEqual({
      status: 'rescheduled',
      at: monday0900Edt,
      reason: 'over_cap',
    });
    // The next one of the same mailbox at that opening keeps the planner's spacing (cap 1: a minute).
    expect(await svc.sequences.sendNow(ny2 as string)).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-09T13:01:00Z'),
      reason: 'over_cap',
    });
    // The contact's own zone wins: at 11:30 IST Friday (06:00Z, Friday in New York: the full day) the
    // next opening is Monday 09:00 in Kolkata (+05:30); the weekend is not a sending day.
    now = new Date('2026-03-06T06:00:00Z');
    expect(await svc.sequences.sendNow(kolkata as string)).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-09T03:30:00Z'),
      reason: 'over_cap',
    });
    const rows = (
      await svc.db.query(
        'SELECT id, planned_at, next_send_at, status, current_step FROM sequence_contacts WHERE id = ANY($1::uuid[])',
        [[ny1, ny2, kolkata]],
      )
    ).rows;
    for (const r of rows) {
      expect(r.status).toBe('active');
      expect(r.current_step).toBe(0);
      expect(r.next_send_at).toEqual(r.planned_at);
    }
    // A delayed job waits for the opening (the sender's own queue, not the planner).
    const job = await svc.queues.get('sequences').getJob(sendJobIdFor(ny1 as string, monday0900Edt));
    expect(job?.data).toEqual({ enrollmentId: ny1, plannedAt: monday0900Edt.getTime() });
    // The planner leaves them alone and counts them in the capacity of the day they fall in.
    now = new Date('2026-03-06T20:00:00Z');
    expect(await svc.sequences.planNow()).toBe(0);
    now = new Date('2026-03-09T03:00:00Z');
    expect(await svc.sequences.planNow()).toBe(0);
    // 09:00 IST Monday is 23:30 EDT Sunday (Sunday's mailbox day); Monday's day holds the other two.
    const after = await runPlanned(new Date('2026-03-09T22:00:00Z'));
    expect(after.map((o) => o.status)).toEqual(['sent', 'sent', 'sent']);
    const sentAt = (
      await svc.db.query(
        'SELECT enrollment_id, sent_at FROM sequence_sends WHERE enrollment_id = ANY($1::uuid[])',
        [[ny1, ny2, kolkata]],
      )
    ).rows;
    expect(Object.fromEntries(sentAt.map((r) => [r.enrollment_id, r.sent_at]))).toEqual({
      [ny1 as string]: monday0900Edt,
      [ny2 as string]: new Date('2026-03-09T13:01:00Z'),
      [kolkata]: new Date('2026-03-09T03:30:00Z'),
    });
  });

  it("when the sequence is in Asia/Kolkata, then the mailbox's day and its Redis counter (and the counter's rebuild) are the Kolkata day, not the UTC day", async () => {
    // The window 02:00-08:00 IST is 20:30Z-02:30Z: one Kolkata day, two UTC days.
    now = new Date('2026-03-02T20:00:00Z'); // Tuesday 01:30 IST
    // Warm-up 2, then 3 a day: the day's cap binds, not the rolling 24 h limit (10).
    const { mailbox } = await setup({
      dailyLimit: 10,
      warmup: { start_limit: 2, daily_increase: 1 },
      contacts: 4,
      sequenceZone: 'Asia/Kolkata',
      window: { from: '02:00', to: '08:00' },
    });
    expect(await svc.sequences.planNow()).toBe(2);
    const first = await runPlanned(new Date('2026-03-03T02:30:00Z'));
    expect(first.map((o) => o.status)).toEqual(['sent', 'sent']);
    const key = `${svc.config.queuePrefix}:seq:sent:${mailbox.id}:Asia/Kolkata:2026-03-03`;
    expect(await redisKeys()).toEqual([key]);
    expect(await redisClient.get(key)).toBe('2');
    // Redis loses the counter; the rebuild counts the sends since 00:00 IST (18:30Z the day before).
    await redisClient.del(key);
    now = new Date('2026-03-03T02:20:00Z'); // 07:50 IST, a new UTC day
    expect(await svc.sequences.planNow()).toBe(0);
    const rest = (
      await svc.db.query(`SELECT id FROM sequence_contacts WHERE current_step = 0 ORDER BY id`)
    ).rows.map((r) => r.id as string);
    await svc.db.query('UPDATE sequence_contacts SET planned_at = $1 WHERE id = ANY($2::uuid[])', [
      now,
      rest,
    ]);
    const outcomes = [];
    for (const id of rest) outcomes.push(await svc.sequences.sendNow(id));
    expect(outcomes).toEqual([
      { status: 'rescheduled', at: new Date('2026-03-03T20:30:00Z'), reason: 'over_cap' },
      { status: 'rescheduled', at: new Date('2026-03-03T20:31:00Z'), reason: 'over_cap' },
    ]);
    expect(await redisClient.get(key)).toBe('2');
    // The next Kolkata day (cap 3): the two rescheduled sends are counted in it; nothing else is due.
    now = new Date('2026-03-03T20:00:00Z');
    expect(await svc.sequences.planNow()).toBe(0);
    const next = await runPlanned(new Date('2026-03-04T02:30:00Z'));
    expect(next.map((o) => o.status)).toEqual(['sent', 'sent']);
    expect(
      await redisClient.get(`${svc.config.queuePrefix}:seq:sent:${mailbox.id}:Asia/Kolkata:2026-03-04`),
    ).toBe('2');
    const sends = (await svc.db.query('SELECT sent_at FROM sequence_sends ORDER BY sent_at')).rows;
    const perDay = new Map<string, number>();
    for (const s of sends) {
      const day = DateTime.fromJSDate(s.sent_at, { zone: 'Asia/Kolkata' }).toISODate() as string;
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    expect(Object.fromEntries(perDay)).toEqual({ '2026-03-03': 2, '2026-03-04': 2 });
  });

  it("when New York springs forward, then the mailbox's day is the 23-hour local day: its counter, its rebuild and the next day's opening follow it", async () => {
    // Sunday 2026-03-08 in New York is 05:00Z to 04:00Z (23 hours); the UTC day ends at 20:00 EDT.
    now = new Date('2026-03-08T23:00:00Z'); // 19:00 EDT
    // Warm-up from 1 a day (Sunday 1, Monday 2): the day's cap binds, not the rolling 24 h limit (10).
    const { mailbox, enrollments } = await setup({
      dailyLimit: 10,
      warmup: { start_limit: 1, daily_increase: 1 },
      contacts: 4,
      window: { from: '00:00', to: '23:59' },
    });
    const [a, b, c, d] = enrollments.map((e) => e.id as string) as [string, string, string, string];
    const send = async (id: string, at: string) => {
      now = new Date(at);
      await svc.db.query('UPDATE sequence_contacts SET planned_at = $1 WHERE id = $2', [now, id]);
      return svc.sequences.sendNow(id);
    };
    expect(await send(a, '2026-03-08T23:00:00Z')).toMatchObject({ status: 'sent' });
    // 21:00 EDT: a new UTC day, the same New York day: full. Next opening: local midnight, 04:00Z.
    expect(await send(b, '2026-03-09T01:00:00Z')).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-09T04:00:00Z'),
      reason: 'over_cap',
    });
    const sunday = `${svc.config.queuePrefix}:seq:sent:${mailbox.id}:America/New_York:2026-03-08`;
    expect(await redisClient.get(sunday)).toBe('1');
    // Redis loses the counter at 23:30 EDT; the rebuild counts from 00:00 EST (05:00Z) to 00:00 EDT.
    await redisClient.del(sunday);
    expect(await send(c, '2026-03-09T03:30:00Z')).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-09T04:01:00Z'),
      reason: 'over_cap',
    });
    expect(await redisClient.get(sunday)).toBe('1');
    // Monday starts at 04:00Z (not 05:00Z = Sunday's start + 24 h).
    now = new Date('2026-03-09T04:00:00Z');
    expect(await svc.sequences.sendNow(b)).toMatchObject({ status: 'sent' });
    expect(
      await redisClient.get(`${svc.config.queuePrefix}:seq:sent:${mailbox.id}:America/New_York:2026-03-09`),
    ).toBe('1');
    now = new Date('2026-03-09T04:01:00Z');
    expect(await svc.sequences.sendNow(c)).toMatchObject({ status: 'sent' });
    expect(
      await redisClient.get(`${svc.config.queuePrefix}:seq:sent:${mailbox.id}:America/New_York:2026-03-09`),
    ).toBe('2');
    expect(await send(d, '2026-03-09T04:02:00Z')).toEqual({
      status: 'rescheduled',
      at: new Date('2026-03-10T04:00:00Z'),
      reason: 'over_cap',
    });
  });

  it("when a step's send fails on its last attempt, then the enrollment is failed with the reason instead of staying planned forever; earlier attempts leave it for the retry", async () => {
    now = new Date('2026-03-02T14:00:00Z');
    const { enrollments, mailbox, sequence } = await setup({});
    const id = enrollments[0]?.id as string;
    await svc.sequences.planNow();
    const plannedAt = (await svc.db.query('SELECT planned_at FROM sequence_contacts WHERE id = $1', [id]))
      .rows[0].planned_at as Date;
    now = plannedAt;
    // A template broken behind the API's back (saved templates are checked): rendering throws.
    await svc.db.query(`UPDATE sequence_steps SET body = 'Hi {{#open}}' WHERE sequence_id = $1`, [
      sequence.id,
    ]);
    const handler = svc.sequences.handlers.sequences?.['sequence-send'] as NonNullable<
      NonNullable<typeof svc.sequences.handlers.sequences>['sequence-send']
    >;
    const job = (attemptsMade: number) =>
      ({
        data: { enrollmentId: id, plannedAt: plannedAt.getTime() },
        attemptsMade,
        opts: { attempts: 5 },
      }) as never;
    await expect(handler(job(0), svc.log.logger)).rejects.toThrow(/Unclosed section/);
    const retrying = (await svc.db.query('SELECT * FROM sequence_contacts WHERE id = $1', [id])).rows[0];
    expect(retrying).toMatchObject({ status: 'active', planned_at: plannedAt });
    // The reservation taken before the failure was given back.
    const key = (await redisKeys())[0] as string;
    expect(key).toContain(mailbox.id);
    expect(await redisClient.get(key)).toBe('0');
    await expect(handler(job(4), svc.log.logger)).rejects.toThrow(/Unclosed section/);
    const failed = (await svc.db.query('SELECT * FROM sequence_contacts WHERE id = $1', [id])).rows[0];
    expect(failed).toMatchObject({ status: 'failed', planned_at: null, next_send_at: null, current_step: 0 });
    expect(failed.stopped_reason).toMatch(/^send failed: .*Unclosed section/);
    expect((await svc.db.query('SELECT count(*)::int AS n FROM sequence_sends')).rows[0].n).toBe(0);
  });
});
