import ICAL from 'ical.js';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminderJobId } from '../../src/appointments/appointment.handlers.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };
let repId: string;
let otherRepId: string;
let demoId: string;

const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  svc.web.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface MailRow {
  id: string;
  to: { email: string }[];
  subject: string;
  text: string;
  metadata: Record<string, unknown>;
  content_type: string | null;
  content: Buffer | null;
}

/** The attendee's messages of one appointment (with their .ics), oldest first. */
async function attendeeMails(appointmentId: string): Promise<MailRow[]> {
  const { rows } = await svc.db.query<MailRow>(
    `SELECT m.id, m."to", m.subject, m.text, m.metadata, a.content_type, a.content
       FROM messages m LEFT JOIN message_attachments a ON a.message_id = m.id
      WHERE m.kind = 'appointment' AND m.metadata->>'appointment_id' = $1
        AND m.metadata->>'mail' NOT LIKE '%-copy'
      ORDER BY (m.metadata->>'sequence')::int, m.created_at`,
    [appointmentId],
  );
  return rows;
}

function parseIcs(content: Buffer) {
  const calendar = new ICAL.Component(ICAL.parse(content.toString('utf8')));
  for (const tz of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(tz);
  const vevent = calendar.getFirstSubcomponent('vevent');
  if (!vevent) throw new Error('no VEVENT');
  const event = new ICAL.Event(vevent);
  const dtstart = vevent.getFirstProperty('dtstart');
  return {
    method: calendar.getFirstPropertyValue('method'),
    uid: event.uid,
    sequence: event.sequence,
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    tzid: dtstart?.getParameter('tzid'),
    localStart: String(dtstart?.getFirstValue()),
    organizer: String(vevent.getFirstPropertyValue('organizer')),
    rsvp: vevent.getFirstProperty('attendee')?.getParameter('rsvp'),
  };
}

const inDays = (days: number, hourUtc = 15) => {
  const d = new Date(Date.now() + days * 86_400_000);
  d.setUTCHours(hourUtc, 0, 0, 0);
  return d;
};

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({ MESSAGE_ID_DOMAIN: 'mail.acme.test' });
  auth = await apiAuth(svc, ['appointments']);
  const actor = { id: 'test' };
  repId = (
    await svc.reps.create(
      { name: 'Rita Rep', email: 'rita@acme.test', time_zone: 'Europe/Paris', slack_dm: false },
      actor,
    )
  ).id;
  otherRepId = (
    await svc.reps.create(
      { name: 'Otto Rep', email: 'otto@acme.test', time_zone: 'America/New_York', slack_dm: false },
      actor,
    )
  ).id;
  const created = await inject('POST', '/v1/services', {
    name: 'Product demo',
    duration_minutes: 30,
    buffer_minutes: 10,
  });
  expect(created.statusCode).toBe(201);
  demoId = created.json().id;
});
afterAll(async () => {
  await svc?.close();
  nock.enableNetConnect();
});

describe('services', () => {
  it('when a service is created, read, changed and listed, then the fields are the contract', async () => {
    const created = await inject('POST', '/v1/services', {
      name: 'Onboarding',
      duration_minutes: 60,
      reminder_minutes: [120],
    });
    expect(created.json()).toMatchObject({
      name: 'Onboarding',
      description: '',
      duration_minutes: 60,
      buffer_minutes: 0,
      reminder_minutes: [120],
      active: true,
    });
    const id = created.json().id;
    const patched = await inject('PATCH', `/v1/services/${id}`, { active: false, description: 'First call' });
    expect(patched.json()).toMatchObject({ active: false, description: 'First call', duration_minutes: 60 });
    expect((await inject('GET', `/v1/services/${id}`)).json().description).toBe('First call');
    expect(
      (await inject('GET', '/v1/services')).json().services.map((s: { name: string }) => s.name),
    ).toContain('Onboarding');
    const bad = await inject('POST', '/v1/services', { name: 'x', duration_minutes: 2 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('duration_minutes');
    expect((await inject('DELETE', `/v1/services/${id}`)).json()).toEqual({ result: 'deleted' });
    expect((await inject('GET', `/v1/services/${id}`)).statusCode).toBe(404);
  });

  it('when a key lacks the appointments scope, then 403 names it', async () => {
    const readOnly = await apiAuth(svc, ['read']);
    const res = await svc.web.inject({ method: 'GET', url: '/v1/appointments', headers: readOnly });
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toContain('"appointments" scope');
    const doc = (await svc.web.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.paths['/v1/appointments'].post['x-scope']).toBe('appointments');
    expect(Object.keys(doc.paths['/v1/appointments/{id}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    expect(doc.paths['/v1/appointments/{id}/notes/{note_id}'].patch).toBeDefined();
    expect(doc.paths['/v1/services/{id}'].delete).toBeDefined();
  });
});

describe('booking, invites and cancellation', () => {
  it('when an appointment is booked, changed and cancelled, then the attendee gets REQUEST, REQUEST and CANCEL with one UID and rising SEQUENCE', async () => {
    const start = inDays(3);
    const booked = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee: { name: 'Ana Client', email: 'Ana@Client.test', time_zone: 'America/Los_Angeles' },
      start: start.toISOString(),
      location: 'https://meet.example.com/abc',
    });
    expect(booked.statusCode).toBe(201);
    const appt = booked.json();
    expect(appt).toMatchObject({
      rep_id: repId,
      service_id: demoId,
      attendee: { name: 'Ana Client', email: 'ana@client.test', time_zone: 'America/Los_Angeles' },
      start: start.toISOString(),
      end: new Date(start.getTime() + 30 * 60_000).toISOString(),
      status: 'booked',
      sequence: 0,
      created_by: expect.stringMatching(/^api-key:/),
    });

    const [confirmation] = await waitFor('confirmation', async () => {
      const mails = await attendeeMails(appt.id);
      return mails.length >= 1 ? mails : undefined;
    });
    expect(confirmation?.content_type).toBe('text/calendar; method=REQUEST');
    expect(confirmation?.to).toEqual([expect.objectContaining({ email: 'ana@client.test' })]);
    // Times in the attendee's own zone, the zone named.
    expect(confirmation?.text).toContain('America/Los_Angeles');
    const invite = parseIcs(confirmation?.content as Buffer);
    expect(invite).toMatchObject({
      method: 'REQUEST',
      uid: `appointment-${appt.id}@mail.acme.test`,
      sequence: 0,
      start: start.toISOString(),
      tzid: 'America/Los_Angeles',
      organizer: 'mailto:rita@acme.test',
      rsvp: 'TRUE',
    });

    // The rep (slack_dm off) gets an email copy.
    await waitFor('rep copy', async () => {
      const { rows } = await svc.db.query(
        `SELECT 1 FROM messages WHERE metadata->>'appointment_id' = $1 AND metadata->>'mail' = 'confirmation-copy' AND "to"->0->>'email' = 'rita@acme.test'`,
        [appt.id],
      );
      return rows.length === 1 ? true : undefined;
    });

    const moved = new Date(start.getTime() + 2 * 3_600_000);
    const patched = await inject('PATCH', `/v1/appointments/${appt.id}`, { start: moved.toISOString() });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ sequence: 1, start: moved.toISOString() });
    const update = await waitFor('update', async () => (await attendeeMails(appt.id))[1]);
    expect(parseIcs(update.content as Buffer)).toMatchObject({
      method: 'REQUEST',
      uid: invite.uid,
      sequence: 1,
      start: moved.toISOString(),
    });

    const cancelled = await inject('DELETE', `/v1/appointments/${appt.id}?reason=Customer%20asked`);
    expect(cancelled.json()).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'Customer asked',
      sequence: 2,
    });
    const cancel = await waitFor('cancellation', async () => (await attendeeMails(appt.id))[2]);
    expect(cancel.content_type).toBe('text/calendar; method=CANCEL');
    expect(parseIcs(cancel.content as Buffer)).toMatchObject({
      method: 'CANCEL',
      uid: invite.uid,
      sequence: 2,
    });
    // The row stays.
    expect((await inject('GET', `/v1/appointments/${appt.id}`)).json().status).toBe('cancelled');
    // A second DELETE changes nothing and mails nothing.
    await inject('DELETE', `/v1/appointments/${appt.id}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await attendeeMails(appt.id)).toHaveLength(3);
  });

  it('when a local time is booked on the New York DST day, then it is stored in UTC and the invite keeps TZID and wall time', async () => {
    const year = new Date().getUTCFullYear() + 1;
    // Second Sunday of March: clocks go from 02:00 to 03:00.
    const march = new Date(Date.UTC(year, 2, 1));
    const dstDay = 1 + ((7 - march.getUTCDay()) % 7) + 7;
    const date = `${year}-03-${String(dstDay).padStart(2, '0')}`;
    const booked = await inject('POST', '/v1/appointments', {
      rep_id: otherRepId,
      service_id: demoId,
      attendee: { name: 'Nia York', email: 'nia@client.test', time_zone: 'America/New_York' },
      start: `${date}T09:00`,
    });
    expect(booked.statusCode).toBe(201);
    // 09:00 EDT (UTC-4), not EST.
    expect(booked.json().start).toBe(`${date}T13:00:00.000Z`);
    const mail = await waitFor('confirmation', async () => (await attendeeMails(booked.json().id))[0]);
    const invite = parseIcs(mail.content as Buffer);
    expect(invite.tzid).toBe('America/New_York');
    expect(invite.localStart).toBe(`${date}T09:00:00`);
    expect(invite.start).toBe(`${date}T13:00:00.000Z`);
    expect(mail.text).toContain('09:00');
    expect(mail.text).toContain('EDT');

    const skipped = await inject('POST', '/v1/appointments', {
      rep_id: otherRepId,
      service_id: demoId,
      attendee: { name: 'Nia York', email: 'nia@client.test', time_zone: 'America/New_York' },
      start: `${date}T02:30`,
    });
    expect(skipped.statusCode).toBe(400);
    expect(skipped.json().errors[0]).toMatchObject({
      field: 'start',
      message: expect.stringContaining('does not exist'),
    });
  });

  it('when the input is wrong, then 400 names the field', async () => {
    const base = {
      rep_id: repId,
      service_id: demoId,
      attendee: { name: 'A', email: 'a@client.test', time_zone: 'Europe/Paris' },
    };
    const past = await inject('POST', '/v1/appointments', { ...base, start: '2020-01-01T10:00:00Z' });
    expect(past.statusCode).toBe(400);
    expect(past.json().errors).toEqual([
      expect.objectContaining({ field: 'start', message: 'must be in the future' }),
    ]);
    const backwards = await inject('POST', '/v1/appointments', {
      ...base,
      start: inDays(5).toISOString(),
      end: inDays(4).toISOString(),
    });
    expect(backwards.json().errors[0].field).toBe('end');
    const unknown = await inject('POST', '/v1/appointments', {
      ...base,
      rep_id: '00000000-0000-4000-8000-000000000000',
      service_id: '00000000-0000-4000-8000-000000000001',
      start: inDays(5).toISOString(),
    });
    expect(unknown.json().errors.map((e: { field: string }) => e.field)).toEqual(['rep_id', 'service_id']);
    const zone = await inject('POST', '/v1/appointments', {
      ...base,
      attendee: { ...base.attendee, time_zone: 'Mars/Base' },
      start: inDays(5).toISOString(),
    });
    expect(zone.json().errors[0].field).toBe('attendee.time_zone');
  });
});

describe('conflicts', () => {
  it('when a booking overlaps another appointment (with its buffer) or a busy synced calendar event, then 409 names them unless allow_overlap', async () => {
    const start = inDays(10, 9);
    const attendee = { name: 'Cy', email: 'cy@client.test', time_zone: 'Europe/Paris' };
    const first = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee,
      start: start.toISOString(),
    });
    expect(first.statusCode).toBe(201);
    // 30 minutes + 10 minutes buffer: 09:35 overlaps the buffer.
    const inBuffer = new Date(start.getTime() + 35 * 60_000);
    const clash = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee,
      start: inBuffer.toISOString(),
    });
    expect(clash.statusCode).toBe(409);
    expect(clash.json().errors).toEqual([
      expect.objectContaining({ field: 'start', message: expect.stringContaining(first.json().id) }),
    ]);

    const eventStart = new Date(start.getTime() + 3 * 3_600_000);
    await svc.db.query(
      `INSERT INTO calendar_events (rep_id, external_id, title, starts_at, ends_at) VALUES ($1, 'gcal-123', 'Board meeting', $2, $3)`,
      [repId, eventStart, new Date(eventStart.getTime() + 3_600_000)],
    );
    const busy = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee,
      start: new Date(eventStart.getTime() + 15 * 60_000).toISOString(),
    });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().errors[0].message).toContain('calendar event gcal-123 "Board meeting"');

    const allowed = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee,
      start: new Date(eventStart.getTime() + 15 * 60_000).toISOString(),
      allow_overlap: true,
    });
    expect(allowed.statusCode).toBe(201);
    // Another rep is free at that time.
    const other = await inject('POST', '/v1/appointments', {
      rep_id: otherRepId,
      service_id: demoId,
      attendee,
      start: start.toISOString(),
    });
    expect(other.statusCode).toBe(201);
  });
});

describe('reminders', () => {
  const queue = () => svc.queues.get('appointments');
  const handlerLogger = createLogger({ level: 'error', format: 'json' });

  it('when an appointment is rescheduled, then its reminders move; a cancelled one gets no reminder at send time', async () => {
    const start = inDays(4, 10);
    const res = await inject('POST', '/v1/appointments', {
      rep_id: otherRepId,
      service_id: demoId,
      attendee: { name: 'Rae', email: 'rae@client.test', time_zone: 'Asia/Kolkata' },
      start: start.toISOString(),
    });
    const id = res.json().id;
    const first = await waitFor(
      'reminder job',
      async () => (await queue().getJob(reminderJobId(id, 0, 1440))) ?? undefined,
    );
    expect(first.timestamp + (first.opts.delay ?? 0)).toBeCloseTo(start.getTime() - 86_400_000, -4);

    const moved = new Date(start.getTime() + 86_400_000);
    await inject('PATCH', `/v1/appointments/${id}`, { start: moved.toISOString() });
    const second = await waitFor(
      'moved reminder job',
      async () => (await queue().getJob(reminderJobId(id, 1, 1440))) ?? undefined,
    );
    expect(second.timestamp + (second.opts.delay ?? 0)).toBeCloseTo(moved.getTime() - 86_400_000, -4);
    await waitFor('old job removed', async () =>
      (await queue().getJob(reminderJobId(id, 0, 1440))) ? undefined : true,
    );

    // The old reminder, had Redis kept it, is stale at send time.
    const handlers = svc.appointments.handlers.appointments ?? {};
    const stale = await handlers.reminder?.(
      {
        data: { appointment_id: id, sequence: 0, offset_minutes: 1440, start: start.toISOString() },
      } as never,
      handlerLogger,
    );
    expect(stale).toBe('stale');
    // The current one is sent (once, even if run twice).
    const data = { appointment_id: id, sequence: 1, offset_minutes: 1440, start: moved.toISOString() };
    const sent = (await handlers.reminder?.({ data } as never, handlerLogger)) as { message_id: string };
    const again = (await handlers.reminder?.({ data } as never, handlerLogger)) as { message_id: string };
    expect(again.message_id).toBe(sent.message_id);
    const reminders = async () => (await attendeeMails(id)).filter((m) => m.metadata.mail === 'reminder');
    expect(await reminders()).toHaveLength(1);

    await inject('DELETE', `/v1/appointments/${id}`);
    const afterCancel = await handlers.reminder?.(
      { data: { ...data, offset_minutes: 60 } } as never,
      handlerLogger,
    );
    expect(afterCancel).toBe('stale');
    // Promote the real delayed job: the worker runs it and sends nothing.
    const job = await queue().getJob(reminderJobId(id, 1, 60));
    if (!job) throw new Error('the 1 h reminder job of the current version is missing');
    await job.promote();
    await waitFor('promoted job finished', async () => ((await job.isCompleted()) ? true : undefined));
    expect((await queue().getJob(job.id as string))?.returnvalue).toBe('stale');
    expect(await reminders()).toHaveLength(1);
  });
});

describe('notes', () => {
  it('when notes are created, listed, changed and deleted under an appointment, then each step shows', async () => {
    const res = await inject('POST', '/v1/appointments', {
      rep_id: repId,
      service_id: demoId,
      attendee: { name: 'Noa', email: 'noa@client.test', time_zone: 'Europe/Paris' },
      start: inDays(20).toISOString(),
    });
    const id = res.json().id;
    const created = await inject('POST', `/v1/appointments/${id}/notes`, {
      title: 'Agenda',
      body: 'Pricing, SSO',
    });
    expect(created.statusCode).toBe(201);
    const note = created.json();
    expect(note).toMatchObject({ appointment_id: id, title: 'Agenda', body: 'Pricing, SSO' });
    expect((await inject('GET', `/v1/appointments/${id}/notes`)).json().notes).toHaveLength(1);
    const patched = await inject('PATCH', `/v1/appointments/${id}/notes/${note.id}`, {
      body: 'Pricing only',
    });
    expect(patched.json()).toMatchObject({ title: 'Agenda', body: 'Pricing only' });
    expect((await inject('GET', `/v1/appointments/${id}/notes/${note.id}`)).json().body).toBe('Pricing only');
    expect((await inject('POST', `/v1/appointments/${id}/notes`, { body: 'x' })).json().errors[0].field).toBe(
      'title',
    );
    expect((await inject('DELETE', `/v1/appointments/${id}/notes/${note.id}`)).statusCode).toBe(204);
    expect((await inject('GET', `/v1/appointments/${id}/notes/${note.id}`)).statusCode).toBe(404);
    expect(
      (await inject('GET', '/v1/appointments/00000000-0000-4000-8000-000000000000/notes')).statusCode,
    ).toBe(404);
  });
});

describe('listing and bursts', () => {
  it('when many appointments are booked at once, then every confirmation is stored exactly once (even with the sweep racing) and the list pages through them', async () => {
    const rep = await svc.reps.create(
      { name: 'Burst Rep', email: 'burst@acme.test', time_zone: 'UTC', slack_dm: false },
      { id: 'test' },
    );
    const base = inDays(30, 0).getTime();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        inject('POST', '/v1/appointments', {
          rep_id: rep.id,
          service_id: demoId,
          attendee: { name: `P${i}`, email: `p${i}@client.test`, time_zone: 'UTC' },
          start: new Date(base + i * 3_600_000).toISOString(),
        }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(40).fill(201));
    const ids = responses.map((r) => r.json().id as string);
    // Run every outbox mail a second time, racing the workers (as a retry or the sweep would).
    const logger = createLogger({ level: 'error', format: 'json' });
    const { rows: mails } = await svc.db.query<{ id: string }>(
      'SELECT id FROM appointment_mails WHERE appointment_id = ANY($1)',
      [ids],
    );
    expect(mails).toHaveLength(40);
    const handlers = svc.appointments.handlers.appointments ?? {};
    await Promise.all([
      ...mails.map((m) => handlers.mail?.({ data: { mail_id: m.id } } as never, logger)),
      handlers.sweep?.({ data: {} } as never, logger),
    ]);
    const counts = await waitFor('all confirmations', async () => {
      const { rows } = await svc.db.query<{ id: string; n: string }>(
        `SELECT metadata->>'appointment_id' AS id, count(*) AS n FROM messages
          WHERE kind = 'appointment' AND metadata->>'mail' = 'confirmation' AND metadata->>'appointment_id' = ANY($1)
          GROUP BY 1`,
        [ids],
      );
      return rows.length === 40 ? rows : undefined;
    });
    expect(counts.every((r) => r.n === '1')).toBe(true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { appointments: { id: string }[]; next_cursor: string | null } = (
        await inject(
          'GET',
          `/v1/appointments?rep_id=${rep.id}&status=booked&limit=15${cursor ? `&cursor=${cursor}` : ''}`,
        )
      ).json();
      seen.push(...page.appointments.map((a) => a.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    const window = await inject(
      'GET',
      `/v1/appointments?rep_id=${rep.id}&from=${encodeURIComponent(new Date(base + 3_600_000).toISOString())}&to=${encodeURIComponent(new Date(base + 3 * 3_600_000).toISOString())}`,
    );
    expect(window.json().appointments.map((a: { id: string }) => a.id)).toEqual(ids.slice(1, 3));
  });
});
