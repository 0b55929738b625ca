import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDay } from '../../src/stats/stats-report.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };

// Report day 2026-11-30:
//   Asia/Kolkata (UTC+5:30)     [2026-11-29T18:30Z, 2026-11-30T18:30Z)
//   America/New_York (EST, -5) [2026-11-30T05:00Z, 2026-12-01T05:00Z)
const K = 'Asia/Kolkata';
const NY = 'America/New_York';

async function message(createdAt: string, status: string, provider: string | null = null, extra = {}) {
  const { rows } = await svc.db.query(
    `INSERT INTO messages (kind, status, provider, from_address, "to", subject, created_at, updated_at, sent_at)
     VALUES ('api', $1, $2, '{"email":"b@acme.test"}', '[{"email":"x@client.test"}]', 's', $3, $3, $4) RETURNING id`,
    [status, provider, createdAt, (extra as { sentAt?: string }).sentAt ?? null],
  );
  return rows[0].id as string;
}

beforeAll(async () => {
  svc = await startTestService({ SLACK_BOT_TOKEN: undefined, SLACK_SIGNING_SECRET: undefined });
  auth = await apiAuth(svc);
  const q = (text: string, params: unknown[] = []) => svc.db.query(text, params);

  // Deliveries: each instant sits on one side of a local midnight.
  await message('2026-11-29T18:29:59Z', 'delivered', 'sendgrid'); // K 11-29 23:59:59 | NY 11-29
  await message('2026-11-29T18:30:00Z', 'delivered', 'sendgrid'); // K 11-30 00:00   | NY 11-29
  await message('2026-11-30T04:59:59Z', 'failed', 'smtp'); //         K 11-30        | NY 11-29 23:59:59
  await message('2026-11-30T05:00:00Z', 'bounced', 'sendgrid'); //    K 11-30        | NY 11-30 00:00
  await message('2026-11-30T18:29:59Z', 'queued'); //                 K 11-30 23:59:59 | NY 11-30
  await message('2026-11-30T18:30:00Z', 'delivered', 'smtp'); //      K 12-01        | NY 11-30
  await message('2026-12-01T04:59:59Z', 'delivered', 'sendgrid'); //  K 12-01        | NY 11-30 23:59:59
  await message('2026-12-01T05:00:00Z', 'delivered', 'sendgrid'); //  K 12-01        | NY 12-01
  await q(`INSERT INTO provider_swaps (provider, state, reason, actor, at) VALUES
    ('sendgrid', 'open', 'HTTP 503', 'circuit-breaker', '2026-11-30T10:00:00Z'),
    ('sendgrid', 'closed', 'probe ok', 'probe', '2026-11-30T10:20:00Z'),
    ('smtp', 'open', 'ECONNREFUSED', 'circuit-breaker', '2026-11-30T20:00:00Z')`);

  // Mailouts: A running since the 28th; B ended on the 30th at 12:00Z (inside both days).
  const a = (
    await q(`INSERT INTO mailouts (name, text, starts_at, ends_at, created_by, status, started_at)
      VALUES ('A', 't', '2026-11-28T00:00Z', '2026-12-31T00:00Z', 'test', 'running', '2026-11-28T00:00Z') RETURNING id`)
  ).rows[0].id;
  const b = (
    await q(`INSERT INTO mailouts (name, text, starts_at, ends_at, created_by, status, started_at, ended_at)
      VALUES ('B', 't', '2026-11-29T10:00Z', '2026-11-30T12:00Z', 'test', 'finished', '2026-11-29T10:00Z', '2026-11-30T12:00Z') RETURNING id`)
  ).rows[0].id;
  await q(
    `INSERT INTO mailout_messages (mailout_id, customer_id, time_zone, operator_code, status, sent_at, updated_at) VALUES
      ($1, 1, 'UTC', '916', 'sent', '2026-11-30T06:00Z', '2026-11-30T06:00Z'),
      ($1, 2, 'UTC', '916', 'sent', '2026-11-30T02:00Z', '2026-11-30T02:00Z'),
      ($1, 3, 'UTC', '916', 'failed', NULL, '2026-11-30T20:00Z'),
      ($2, 4, 'UTC', '916', 'expired', NULL, '2026-11-30T12:00Z'),
      ($2, 5, 'UTC', '916', 'sent', '2026-11-29T11:00Z', '2026-11-29T11:00Z')`,
    [a, b],
  );

  // Sequences: one enrollment replied (both days), one bounced late on the 30th in New York.
  const mailbox = (
    await q(`INSERT INTO mailboxes (email, daily_limit) VALUES ('out@acme.test', 50) RETURNING id`)
  ).rows[0].id;
  const seq = (
    await q(`INSERT INTO sequences (name, window_from, window_to, days, time_zone, status)
      VALUES ('Q4 outbound', '09:00', '17:00', '{1,2,3,4,5}', 'UTC', 'active') RETURNING id`)
  ).rows[0].id;
  const [c1, c2] = (
    await q(`INSERT INTO contacts (email) VALUES ('c1@client.test'), ('c2@client.test') RETURNING id`)
  ).rows.map((r) => r.id);
  const e1 = (
    await q(
      `INSERT INTO sequence_contacts (sequence_id, contact_id, mailbox_id, status, current_step, updated_at)
       VALUES ($1, $2, $3, 'replied', 2, '2026-11-30T12:00Z') RETURNING id`,
      [seq, c1, mailbox],
    )
  ).rows[0].id;
  await q(
    `INSERT INTO sequence_contacts (sequence_id, contact_id, mailbox_id, status, current_step, updated_at)
     VALUES ($1, $2, $3, 'bounced', 1, '2026-11-30T22:00Z')`,
    [seq, c2, mailbox],
  );
  await q(
    `INSERT INTO sequence_sends (enrollment_id, step, mailbox_id, message_id, message_id_header, sent_at) VALUES
      ($1, 1, $2, gen_random_uuid(), '<s1@acme.test>', '2026-11-30T03:00Z'),
      ($1, 2, $2, gen_random_uuid(), '<s2@acme.test>', '2026-11-30T12:00Z')`,
    [e1, mailbox],
  );

  // Appointments and briefings need reps and a service.
  const reps = (
    await q(`INSERT INTO reps (name, email, time_zone) VALUES
      ('R1', 'r1@acme.test', 'America/New_York'), ('R2', 'r2@acme.test', 'Asia/Kolkata'), ('R3', 'r3@acme.test', 'UTC')
      RETURNING id`)
  ).rows.map((r) => r.id);
  const service = (await q(`INSERT INTO services (name, duration_minutes) VALUES ('Demo', 30) RETURNING id`))
    .rows[0].id;
  const appt = (created: string, start: string, status = 'booked', updated = created) =>
    q(
      `INSERT INTO appointments (rep_id, service_id, attendee, starts_at, ends_at, status, created_by, created_at, updated_at)
       VALUES ($1, $2, '{"name":"Ana","email":"ana@client.test","time_zone":"UTC"}', $3, $3::timestamptz + interval '30 minutes', $4, 'test', $5, $6)`,
      [reps[0], service, start, status, created, updated],
    );
  await appt('2026-11-30T10:00Z', '2026-12-01T04:00Z'); // booked both days; today only in Kolkata
  await appt('2026-11-30T20:00Z', '2026-12-01T15:00Z'); // booked NY only; today in both
  await appt('2026-11-20T10:00Z', '2026-12-05T10:00Z', 'cancelled', '2026-11-30T01:00Z'); // cancelled: Kolkata only

  // Briefings: their messages were created days before, so they stay out of the deliveries above.
  const onTime = await message('2026-11-25T12:00Z', 'delivered', 'sendgrid', { sentAt: '2026-11-30T13:01Z' });
  const late = await message('2026-11-25T12:00Z', 'delivered', 'sendgrid', { sentAt: '2026-11-30T02:40Z' });
  const briefing = (rep: string, deliverAt: string, status: string, messageId: string | null) =>
    q(
      `INSERT INTO briefings (rep_id, local_date, time_zone, status, prepare_at, deliver_at, cutoff_at, message_id)
       VALUES ($1, '2026-11-30', 'UTC', $2, $3, $3, $3, $4)`,
      [rep, status, deliverAt, messageId],
    );
  await briefing(reps[0], '2026-11-30T13:00Z', 'scheduled', onTime); // both
  await briefing(reps[1], '2026-11-30T02:30Z', 'scheduled', late); // Kolkata only, 10 min late
  await briefing(reps[2], '2026-11-30T14:00Z', 'skipped', null); // both
  await q(`INSERT INTO participants (email, status, provider, fetched_at, expires_at) VALUES
    ('p1@client.test', 'found', 'pdl', '2026-11-30T06:00Z', '2027-01-01Z'),
    ('p2@client.test', 'not_found', 'pdl', '2026-11-30T03:00Z', '2027-01-01Z')`);
});
afterAll(async () => svc.close());

const ALL = ['deliveries', 'mailouts', 'sequences', 'appointments', 'briefings'] as const;

describe('daily stats numbers', () => {
  it('when the day is counted in Asia/Kolkata, then exactly what happened between its local midnights (UTC+5:30) counts', async () => {
    const report = await svc.stats.service.report('2026-11-30', K, ALL);
    expect(report.from).toBe('2026-11-29T18:30:00.000Z');
    expect(report.to).toBe('2026-11-30T18:30:00.000Z');
    expect(report.deliveries).toEqual({
      total: 4,
      byStatus: { delivered: 1, failed: 1, bounced: 1, queued: 1 },
      byProvider: { sendgrid: 2, smtp: 1 },
      failovers: [{ provider: 'sendgrid', at: '2026-11-30T10:00:00.000Z', reason: 'HTTP 503' }],
    });
    expect(report.mailouts).toEqual({ running: 1, finished: 1, sent: 2, failed: 0, expired: 1 });
    expect(report.sequences?.totals).toEqual({ sent: 2, replies: 1, bounces: 0, unsubscribes: 0 });
    expect(report.sequences?.sequences).toMatchObject([{ name: 'Q4 outbound', sent: 2, replies: 1 }]);
    expect(report.appointments).toEqual({ booked: 1, cancelled: 1, upcomingToday: 2 });
    expect(report.briefings).toEqual({
      sent: 2,
      late: 1,
      skipped: 1,
      failed: 0,
      enrichmentHits: 1,
      enrichmentMisses: 1,
    });
  });

  it('when the same day is counted in America/New_York, then its own midnights (UTC-5) decide', async () => {
    const report = await svc.stats.service.report('2026-11-30', NY, ALL);
    expect(report.from).toBe('2026-11-30T05:00:00.000Z');
    expect(report.to).toBe('2026-12-01T05:00:00.000Z');
    expect(report.deliveries).toEqual({
      total: 4,
      byStatus: { delivered: 2, bounced: 1, queued: 1 },
      byProvider: { sendgrid: 2, smtp: 1 },
      failovers: [
        { provider: 'sendgrid', at: '2026-11-30T10:00:00.000Z', reason: 'HTTP 503' },
        { provider: 'smtp', at: '2026-11-30T20:00:00.000Z', reason: 'ECONNREFUSED' },
      ],
    });
    expect(report.mailouts).toEqual({ running: 1, finished: 1, sent: 1, failed: 1, expired: 1 });
    expect(report.sequences?.totals).toEqual({ sent: 1, replies: 1, bounces: 1, unsubscribes: 0 });
    expect(report.appointments).toEqual({ booked: 2, cancelled: 0, upcomingToday: 1 });
    expect(report.briefings).toEqual({
      sent: 1,
      late: 0,
      skipped: 1,
      failed: 0,
      enrichmentHits: 1,
      enrichmentMisses: 0,
    });
  });

  it('when New York falls back (1 Nov 2026), then its day is 25 hours long and a message at 23:30 EST still counts', async () => {
    const day = localDay('2026-11-01', NY);
    expect(day.from.toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(day.to.toISOString()).toBe('2026-11-02T05:00:00.000Z');
    await message('2026-11-01T03:59:59Z', 'delivered', 'smtp'); // 23:59:59 EDT on 31 Oct
    await message('2026-11-02T04:30:00Z', 'delivered', 'smtp'); // 23:30 EST on 1 Nov
    const report = await svc.stats.service.report('2026-11-01', NY, ['deliveries']);
    expect(report.deliveries?.total).toBe(1);
    expect(report.mailouts).toBeUndefined();
    expect(report.sections).toEqual(['deliveries']);
  });

  it('when the chart data is read, then every one of the 14 local days has each status group, zeros included', async () => {
    const points = await svc.stats.repo.chartSeries(localDay('2026-11-30', K));
    expect(points).toHaveLength(14 * 4);
    expect(points[0]).toEqual({ day: '2026-11-17', status: 'sent', count: 0 });
    const on = (day: string) =>
      Object.fromEntries(points.filter((p) => p.day === day).map((p) => [p.status, p.count]));
    expect(on('2026-11-30')).toEqual({ sent: 1, failed: 2, waiting: 1, other: 0 });
    expect(on('2026-11-29')).toEqual({ sent: 1, failed: 0, waiting: 0, other: 0 });
    expect(on('2026-11-25')).toEqual({ sent: 2, failed: 0, waiting: 0, other: 0 });
    const png = await svc.stats.service.chart(await svc.stats.service.report('2026-11-30', K, []));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.length).toBeGreaterThan(5_000);
  });

  it('when GET /v1/stats is asked for a day and zone, then it answers the same numbers; bad input is a 400 naming the field', async () => {
    const res = await svc.web.inject({
      method: 'GET',
      url: '/v1/stats?date=2026-11-30&time_zone=Asia/Kolkata&sections=deliveries,appointments',
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      localDate: '2026-11-30',
      sections: ['deliveries', 'appointments'],
      deliveries: { total: 4 },
      appointments: { booked: 1, cancelled: 1, upcomingToday: 2 },
    });
    expect(res.json().briefings).toBeUndefined();
    const bad = await svc.web.inject({
      method: 'GET',
      url: '/v1/stats?date=2026-11-31&time_zone=Mars/Base&sections=weather',
      headers: auth,
    });
    expect(bad.statusCode).toBe(400);
    const fields = bad.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['query.date', 'query.time_zone', 'query.sections']));
    const readOnly = await apiAuth(svc, ['read']);
    const forbidden = await svc.web.inject({
      method: 'GET',
      url: '/v1/stats?date=2026-11-30&time_zone=UTC',
      headers: readOnly,
    });
    expect(forbidden.statusCode).toBe(403);
  });
});
