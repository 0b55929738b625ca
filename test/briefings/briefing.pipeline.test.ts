import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { briefingJobHandlers } from '../../src/briefings/briefing.handlers.ts';
import { finalizeJobId } from '../../src/briefings/briefing.service.ts';
import { CredentialError, vendorUnavailable } from '../../src/calendars/calendar-provider.ts';
import { QuotaExhaustedError } from '../../src/enrichment/enrichment-provider.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { FakeCalendarProvider, FakeEnrichment, fakeProviders, meeting } from '../helpers/calendars.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const fake = new FakeCalendarProvider();
const enrichment = new FakeEnrichment({
  'ana@northwind.example': {
    name: 'Ana Lima',
    title: 'VP Operations',
    company: 'Northwind Robotics',
    companySize: '201-500',
    industry: 'Industrial Automation',
  },
});
let now = new Date('2026-12-02T00:00:00Z');
const clock = { now: () => now };
let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({ COMPANY_DOMAINS: 'acme.test', BRIEFING_REFRESH_MINUTES: '10' }, 'all', {
    calendarProviders: fakeProviders(fake),
    enrichmentProvider: enrichment,
    clock,
  });
});
afterAll(async () => svc.close());

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

async function newRep(email: string, timeZone: string, extra: Record<string, unknown> = {}) {
  const rep = await svc.reps.create(
    { name: email.split('@')[0], email, time_zone: timeZone, ...extra },
    { id: 'test' },
  );
  await svc.briefings.calendars.connect({ repId: rep.id, provider: 'ics', authKind: 'url' });
  return rep;
}

const briefingsOf = async (repId: string) =>
  (await svc.db.query('SELECT * FROM briefings WHERE rep_id = $1 ORDER BY local_date', [repId])).rows;
const briefing = async (repId: string, date: string) =>
  (await svc.db.query('SELECT * FROM briefings WHERE rep_id = $1 AND local_date = $2', [repId, date]))
    .rows[0];

describe('briefing pipeline', () => {
  it('when the rep’s 05:00 passes, then the briefing is prepared; at 07:50 it is re-synced, rendered and handed to delivery for 08:00 local', async () => {
    const rep = await newRep('nora@acme.test', 'America/New_York', { slack_user_id: 'UNORA0001' });
    fake.events.set('nora@acme.test', [
      meeting('m1', '2026-12-02T15:00:00Z', 45, ['nora@acme.test', 'ana@northwind.example', 'bo@acme.test'], {
        title: 'Discovery call — Northwind',
        selfResponse: 'accepted',
      }),
      meeting('m2', '2026-12-02T17:00:00Z', 30, ['nora@acme.test', 'zed@globex.example'], {
        title: 'Declined sync',
        selfResponse: 'declined',
      }),
      // Before the window: history that makes "first meeting" false for bo@ and ana@.
      meeting('old', '2026-11-20T15:00:00Z', 30, ['nora@acme.test', 'ana@northwind.example']),
    ]);

    now = new Date('2026-12-02T09:59:00Z'); // 04:59 in New York
    await svc.briefings.service.tick();
    expect(await briefingsOf(rep.id)).toHaveLength(0);

    now = new Date('2026-12-02T10:01:00Z'); // 05:01
    await svc.briefings.service.tick();
    const prepared = await until(
      () => briefing(rep.id, '2026-12-02'),
      (b) => b?.status === 'prepared',
    );
    expect(prepared.status).toBe('prepared');
    expect(prepared.deliver_at.toISOString()).toBe('2026-12-02T13:00:00.000Z');
    // Only external attendees of meetings the rep has not declined are looked up, once each.
    await until(
      async () => enrichment.calls.length,
      (n) => n >= 1,
    );
    expect(enrichment.calls).toEqual(['ana@northwind.example']);

    // A meeting booked after preparation appears thanks to the refresh sync.
    fake.events.get('nora@acme.test')?.push(
      meeting('m3', '2026-12-02T19:00:00Z', 30, ['nora@acme.test', 'li@initech.example'], {
        title: 'Late add',
      }),
    );
    now = new Date('2026-12-02T12:51:00Z'); // 07:51
    const job = await svc.queues.get('briefings').getJob(finalizeJobId(prepared));
    expect(await job?.isDelayed()).toBe(true);
    await job?.promote();
    const scheduled = await until(
      () => briefing(rep.id, '2026-12-02'),
      (b) => b?.status === 'scheduled',
    );
    const message = (await svc.db.query('SELECT * FROM messages WHERE id = $1', [scheduled.message_id]))
      .rows[0];
    expect(message.kind).toBe('briefing');
    expect(message.send_at.toISOString()).toBe('2026-12-02T13:00:00.000Z');
    expect(message.to).toEqual([{ email: 'nora@acme.test', name: 'nora' }]);
    expect(message.text).toContain('Discovery call — Northwind');
    expect(message.text).toContain('Late add');
    expect(message.text).toContain('VP Operations');
    expect(message.text).not.toContain('Declined sync');
    const content = scheduled.content;
    expect(content.meetings.map((m: { title: string }) => m.title)).toEqual([
      'Discovery call — Northwind',
      'Late add',
    ]);
    const attendees = content.meetings[0].attendees;
    expect(attendees[0]).toMatchObject({
      email: 'ana@northwind.example',
      external: true,
      firstMeeting: false,
      company: 'Northwind Robotics',
    });
    expect(attendees[1]).toMatchObject({ email: 'bo@acme.test', external: false, firstMeeting: true });
    expect(content.meetings[1].attendees[0]).toMatchObject({
      email: 'li@initech.example',
      firstMeeting: true,
    });

    // The Slack DM carries the same briefing and waits for the delivery time too.
    const dm = (
      await svc.db.query("SELECT channel, blocks::text AS blocks FROM slack_posts WHERE kind = 'briefing-dm'")
    ).rows;
    expect(dm).toEqual([{ channel: 'UNORA0001', blocks: expect.stringContaining('Discovery call') }]);

    // Ticking again the same day builds nothing more.
    await svc.briefings.service.tick();
    expect(await briefingsOf(rep.id)).toHaveLength(1);
    expect(
      (await svc.db.query("SELECT count(*)::int n FROM messages WHERE metadata->>'rep_id' = $1", [rep.id]))
        .rows[0].n,
    ).toBe(1);
  });

  it('when the service comes back after 08:00 but before the cutoff, then the briefing is prepared and sent at once', async () => {
    const rep = await newRep('kiran@acme.test', 'Asia/Kolkata');
    fake.events.set('kiran@acme.test', [
      meeting('k1', '2026-12-03T06:30:00Z', 30, ['kiran@acme.test', 'ana@northwind.example']),
    ]);
    now = new Date('2026-12-03T03:30:00Z'); // 09:00 in Kolkata, delivery was 08:00 (02:30Z)
    await svc.briefings.service.tick();
    const b = await until(
      () => briefing(rep.id, '2026-12-03'),
      (row) => row?.status === 'scheduled',
    );
    expect(b.deliver_at.toISOString()).toBe('2026-12-03T02:30:00.000Z');
    const message = (await svc.db.query('SELECT send_at FROM messages WHERE id = $1', [b.message_id]))
      .rows[0];
    expect(message.send_at.toISOString()).toBe('2026-12-03T03:30:00.000Z');
  });

  it('when the service comes back after the cutoff, then the day is recorded as skipped and nothing is sent', async () => {
    const rep = await newRep('lena@acme.test', 'Europe/London');
    fake.events.set('lena@acme.test', [
      meeting('l1', '2026-12-04T15:00:00Z', 30, ['lena@acme.test', 'x@y.example']),
    ]);
    now = new Date('2026-12-04T12:30:00Z');
    await svc.briefings.service.tick();
    const b = await briefing(rep.id, '2026-12-04');
    expect(b.status).toBe('skipped');
    expect(b.reason).toMatch(/cutoff/);
    expect(b.message_id).toBeNull();
  });

  it('when two scheduler ticks run at once, then each rep gets one briefing row and one message', async () => {
    const rep = await newRep('duo@acme.test', 'Europe/Paris');
    fake.events.set('duo@acme.test', [
      meeting('d1', '2026-12-05T10:00:00Z', 30, ['duo@acme.test', 'p@q.example']),
    ]);
    now = new Date('2026-12-05T07:20:00Z'); // 08:20 Paris: catch-up, sends at once
    const results = await Promise.all([
      svc.briefings.service.tick(),
      svc.briefings.service.tick(),
      svc.briefings.service.tick(),
    ]);
    expect(results.reduce((n, r) => n + r.created, 0)).toBeGreaterThanOrEqual(1);
    await until(
      () => briefing(rep.id, '2026-12-05'),
      (row) => row?.status === 'scheduled',
    );
    await Promise.all([svc.briefings.service.tick(), svc.briefings.service.tick()]);
    expect(await briefingsOf(rep.id)).toHaveLength(1);
    const { rows } = await svc.db.query(
      "SELECT count(*)::int n FROM messages WHERE metadata->>'rep_id' = $1",
      [rep.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('when a rep moves to another time zone, then the next briefing follows the new zone and past ones stay', async () => {
    const rep = await newRep('mover@acme.test', 'Europe/London');
    fake.events.set('mover@acme.test', []);
    now = new Date('2026-12-06T07:55:00Z'); // 07:55 London: past the 07:50 refresh, finalized at once
    await svc.briefings.service.tick();
    await until(
      () => briefing(rep.id, '2026-12-06'),
      (row) => row?.status === 'empty',
    );
    await svc.reps.update(rep.id, { time_zone: 'Asia/Tokyo' }, { id: 'test' });
    now = new Date('2026-12-06T20:30:00Z'); // 05:30 on the 7th in Tokyo
    await svc.briefings.service.tick();
    const tokyo = await briefing(rep.id, '2026-12-07');
    expect(tokyo.time_zone).toBe('Asia/Tokyo');
    expect(tokyo.deliver_at.toISOString()).toBe('2026-12-06T23:00:00.000Z');
    const london = await briefing(rep.id, '2026-12-06');
    expect(london.time_zone).toBe('Europe/London');
    expect(london.reason).toMatch(/no meetings/);
  });

  it('when a day has no meetings and the rep opted in to empty briefings, then a "no meetings" email is still sent', async () => {
    const rep = await newRep('empty@acme.test', 'UTC', { empty_briefings: true });
    fake.events.set('empty@acme.test', []);
    now = new Date('2026-12-08T09:00:00Z');
    await svc.briefings.service.tick();
    const b = await until(
      () => briefing(rep.id, '2026-12-08'),
      (row) => row?.status === 'scheduled',
    );
    const message = (await svc.db.query('SELECT text FROM messages WHERE id = $1', [b.message_id])).rows[0];
    expect(message.text).toContain('No meetings');
  });

  it('when a rep’s credential is revoked, then the connection is broken, the rep and the alert channel are told once, and other reps are unaffected', async () => {
    const broken = await newRep('revoked@acme.test', 'UTC');
    const fine = await newRep('fine@acme.test', 'UTC');
    fake.fail.set('revoked@acme.test', new CredentialError('ICS feed answered 401'));
    fake.events.set('fine@acme.test', [
      meeting('f1', '2026-12-09T14:00:00Z', 30, ['fine@acme.test', 'c@d.example']),
    ]);
    now = new Date('2026-12-09T09:00:00Z');
    await svc.briefings.service.tick();
    await until(
      () => briefing(fine.id, '2026-12-09'),
      (row) => row?.status === 'scheduled',
    );
    const failed = await until(
      () => briefing(broken.id, '2026-12-09'),
      (row) => row?.status === 'failed',
    );
    expect(failed.reason).toMatch(/calendar connection broken: ICS feed answered 401/);
    const connection = (
      await svc.db.query('SELECT status, broken_reason FROM calendar_connections WHERE rep_id = $1', [
        broken.id,
      ])
    ).rows[0];
    expect(connection).toEqual({ status: 'broken', broken_reason: 'ICS feed answered 401' });
    // A second sync attempt (e.g. /briefing) does not alert again.
    await svc.briefings.sync.sync({ id: broken.id, email: 'revoked@acme.test', timeZone: 'UTC' });
    const posts = await svc.db.query(
      "SELECT kind FROM slack_posts WHERE kind LIKE 'calendar-broken%' AND copy_of IS NULL ORDER BY kind",
    );
    expect(posts.rows.map((r) => r.kind)).toEqual(['calendar-broken']);
  });

  it('when a briefing job fails for the last time, then the briefing is recorded as failed and alerted', async () => {
    const rep = await newRep('flaky@acme.test', 'UTC');
    fake.fail.set('flaky@acme.test', vendorUnavailable('ICS feed', '503'));
    now = new Date('2026-12-10T06:00:00Z');
    await svc.briefings.service.tick();
    const row = await briefing(rep.id, '2026-12-10');
    const handlers = briefingJobHandlers({
      service: svc.briefings.service,
      enrichment: svc.briefings.enrichment,
      participants: undefined as never,
      clock,
      syncCalendar: async () => undefined,
    });
    const job = { data: { briefingId: row.id }, attemptsMade: 4, opts: { attempts: 5 } } as unknown as Job;
    await expect(
      handlers.briefings?.prepare?.(job, createLogger({ level: 'error', format: 'json' })),
    ).rejects.toThrow(/503/);
    const failed = await briefing(rep.id, '2026-12-10');
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/ICS feed is unavailable: 503/);
    const alert = await svc.db.query("SELECT text FROM slack_posts WHERE kind = 'briefing-failed'");
    expect(alert.rows[0].text).toContain('2026-12-10');
  });

  // Last in the file: the quota flag it sets pauses enrichment for this service from here on.
  it('when the enrichment quota runs out, then the alert channel is told once and the briefing goes out un-enriched with a note', async () => {
    const rep = await newRep('quota@acme.test', 'UTC');
    enrichment.fail.set('buyer@umbrella.example', new QuotaExhaustedError('PDL', 'payment_required'));
    fake.events.set('quota@acme.test', [
      meeting('q1', '2026-12-11T14:00:00Z', 30, [
        'quota@acme.test',
        'buyer@umbrella.example',
        'cfo@umbrella.example',
      ]),
    ]);
    now = new Date('2026-12-11T09:00:00Z');
    await svc.briefings.service.tick();
    const b = await until(
      () => briefing(rep.id, '2026-12-11'),
      (row) => row?.status === 'scheduled',
      20_000,
    );
    expect(b.content.enrichmentNote).toMatch(/enrichment quota is used up/);
    expect(b.content.meetings[0].attendees.map((a: { email: string }) => a.email)).toEqual(
      expect.arrayContaining(['buyer@umbrella.example', 'cfo@umbrella.example']),
    );
    const alerts = await svc.db.query(
      "SELECT text FROM slack_posts WHERE kind = 'enrichment-quota' AND copy_of IS NULL",
    );
    expect(alerts.rows).toHaveLength(1);
    expect(alerts.rows[0].text).toMatch(/quota exhausted/);
  }, 30_000);
});
