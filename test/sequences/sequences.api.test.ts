import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUnsubscribe } from '../../src/sequences/unsubscribe-token.ts';
import { generateSendgridKeyPair, signSendgrid } from '../helpers/sendgrid.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

const INBOUND = 'inbound-secret-0123456789';
let svc: TestService;
let auth: { authorization: string };
let privateKey: KeyObject;
let now = new Date('2026-03-02T15:00:00Z'); // Monday 10:00 in New York
const clock = { now: () => now };

beforeAll(async () => {
  const pair = generateSendgridKeyPair();
  privateKey = pair.privateKey;
  svc = await startTestService(
    {
      PUBLIC_URL: 'https://briefly.test',
      INBOUND_PARSE_SECRET: INBOUND,
      SEQUENCES_UNSUBSCRIBE_SECRET: 'unsubscribe-secret-0123456789',
      SENDGRID_WEBHOOK_PUBLIC_KEY: pair.publicKeyBase64,
    },
    'web',
    { clock },
  );
  auth = await apiAuth(svc, ['sequences']);
});
afterAll(async () => svc.close());

const api = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
  const res = await svc.web.inject({
    method,
    url,
    headers: auth,
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
};

let mailboxCount = 0;
async function world(contacts = 2, dailyLimit = 10) {
  const mailbox = await api('POST', '/v1/mailboxes', {
    email: `sales${++mailboxCount}@acme.test`,
    display_name: 'Sales',
    daily_limit: dailyLimit,
  });
  expect(mailbox.status).toBe(201);
  const ids: string[] = [];
  for (let i = 0; i < contacts; i++) {
    const c = await api('POST', '/v1/contacts', {
      email: `p${mailboxCount}-${i}@prospect.test`,
      first_name: `P${i}`,
      company: 'Prospect',
    });
    expect(c.status).toBe(201);
    ids.push(c.body.id);
  }
  const sequence = await api('POST', '/v1/sequences', {
    name: `Seq ${mailboxCount}`,
    owner_slack_user_id: 'UOWNER0001',
    window: { from: '09:00', to: '17:00' },
    days: [1, 2, 3, 4, 5],
    time_zone: 'America/New_York',
    status: 'active',
    mailbox_ids: [mailbox.body.id],
    steps: [
      { delay_days: 0, subject: 'Hi {{first_name}}', body: 'Hello {{first_name}}' },
      { delay_days: 2, subject: 'x', body: 'Again {{first_name}}' },
    ],
  });
  expect(sequence.status).toBe(201);
  const enrolled = await api('POST', `/v1/sequences/${sequence.body.id}/enrollments`, { contact_ids: ids });
  expect(enrolled.status).toBe(200);
  return {
    mailbox: mailbox.body,
    contacts: ids,
    sequence: sequence.body,
    enrollments: enrolled.body.enrolled,
  };
}

async function sendFirstSteps() {
  await svc.sequences.planNow();
  const { rows } = await svc.db.query(
    `SELECT id, planned_at FROM sequence_contacts WHERE planned_at IS NOT NULL ORDER BY planned_at`,
  );
  for (const r of rows) {
    now = r.planned_at;
    await svc.sequences.sendNow(r.id);
  }
}

const raw = (contentType: string, payload: string) =>
  svc.web.inject({
    method: 'POST',
    url: '/v1/contacts/bulk',
    headers: { ...auth, 'content-type': contentType },
    payload,
  });

const enrollment = async (id: string) =>
  (await svc.db.query('SELECT * FROM sequence_contacts WHERE id = $1', [id])).rows[0];

describe('/v1 sequences API', () => {
  it('when a step uses an unknown variable, then saving fails naming the field and the variable', async () => {
    const res = await api('POST', '/v1/sequences', {
      name: 'Bad',
      window: { from: '09:00', to: '17:00' },
      time_zone: 'Europe/Paris',
      steps: [{ delay_days: 0, subject: 'Hi {{frist_name}}', body: 'ok' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        field: 'steps.0.subject',
        message: expect.stringMatching(/unknown variable \{\{frist_name\}\}/),
      }),
    ]);
    const raw = await api('POST', '/v1/sequences', {
      name: 'Raw',
      window: { from: '09:00', to: '17:00' },
      time_zone: 'Europe/Paris',
      steps: [{ delay_days: 0, subject: 'Hi', body: '{{{first_name}}}' }],
    });
    expect(raw.status).toBe(400);
    expect(raw.body.errors[0].field).toBe('steps.0.body');
  });

  it('when fields are wrong, then 400 names each (window, days, zone, email)', async () => {
    const res = await api('POST', '/v1/sequences', {
      name: 'x',
      window: { from: '9am', to: '17:00' },
      days: [0, 8],
      time_zone: 'Mars/Base',
    });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['window.from', 'days.0', 'days.1', 'time_zone']));
    const contact = await api('POST', '/v1/contacts', { email: 'not-an-email' });
    expect(contact.status).toBe(400);
    expect(contact.body.errors[0].field).toBe('email');
  });

  it('when contacts are imported as CSV or NDJSON, then valid files are stored whole and a bad row fails the file naming its line', async () => {
    const csv =
      'email,first_name,company,time_zone,plan\r\nana@bulk.test,Ana,"Acme, Inc",Europe/Paris,pro\r\nbo@bulk.test,Bo,,,\r\n';
    const ok = await api('POST', '/v1/contacts/bulk', { csv });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ created: 2, existing: [], existing_count: 0, rejected: 0, rejected_rows: [] });
    const { rows } = await svc.db.query(
      `SELECT email, company, time_zone, fields FROM contacts WHERE email LIKE '%@bulk.test' ORDER BY email`,
    );
    expect(rows).toEqual([
      { email: 'ana@bulk.test', company: 'Acme, Inc', time_zone: 'Europe/Paris', fields: { plan: 'pro' } },
      { email: 'bo@bulk.test', company: '', time_zone: null, fields: {} },
    ]);
    const ndjson = '{"email":"cy@bulk.test","first_name":"Cy"}\n{"email":"ana@bulk.test"}\n';
    expect((await api('POST', '/v1/contacts/bulk', { ndjson })).body).toEqual({
      created: 1,
      existing: ['ana@bulk.test'],
      existing_count: 1,
      rejected: 0,
      rejected_rows: [],
    });
    const bad = await api('POST', '/v1/contacts/bulk', {
      csv: 'email,time_zone\ndi@bulk.test,UTC\nnot-an-email,UTC\nel@bulk.test,Nowhere/City\n',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'csv.line 3.email',
      'csv.line 4.time_zone',
    ]);
    expect((await svc.db.query(`SELECT 1 FROM contacts WHERE email = 'di@bulk.test'`)).rowCount).toBe(0);
  });

  it('when contacts are streamed as text/csv, then good rows are stored whole, each bad row is stored not at all and named by line and field, and the answer sums it up', async () => {
    await api('POST', '/v1/contacts', { email: 'old@stream.test', first_name: 'Old' });
    const csv = [
      'Email,First_Name,company,Time_Zone,plan,Seats',
      'ana@stream.test,Ana,"Acme, Inc",Asia/Kolkata,pro,5',
      'not-an-email,Bad,X,,basic,1',
      'bo@stream.test,Bo,,Nowhere/City,basic,2',
      '"cy@stream.test",Cy,"Line one',
      'line two",America/New_York,,',
      'OLD@stream.test,Old again,,,,',
      'ana@stream.test,Ana twice,,,,',
      '',
    ].join('\r\n');
    const res = await raw('text/csv; charset=utf-8', csv);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      created: 2,
      existing: ['old@stream.test'],
      existing_count: 1,
      rejected: 3,
      rejected_rows: [
        { line: 3, field: 'email', message: expect.stringMatching(/valid email/) },
        { line: 4, field: 'time_zone', message: expect.stringMatching(/IANA/) },
        { line: 8, field: 'email', message: 'repeats ana@stream.test from line 2' },
      ],
    });
    const { rows } = await svc.db.query(
      `SELECT email, first_name, company, time_zone, fields FROM contacts WHERE email LIKE '%@stream.test' ORDER BY email`,
    );
    expect(rows).toEqual([
      {
        email: 'ana@stream.test',
        first_name: 'Ana',
        company: 'Acme, Inc',
        time_zone: 'Asia/Kolkata',
        fields: { plan: 'pro', Seats: '5' },
      },
      {
        email: 'cy@stream.test',
        first_name: 'Cy',
        company: 'Line one\r\nline two',
        time_zone: 'America/New_York',
        fields: {},
      },
      { email: 'old@stream.test', first_name: 'Old', company: '', time_zone: null, fields: {} },
    ]);
    const audit = await svc.db.query(`SELECT details FROM audit_log WHERE action = 'contact.import'`);
    expect(audit.rows).toEqual([{ details: { format: 'csv', created: 2, existing: 1, rejected: 3 } }]);
    // A header without an email column refuses the file before anything is stored.
    const noEmail = await raw('text/csv', 'name,company\nZed,Z\n');
    expect(noEmail.statusCode).toBe(400);
    expect(noEmail.json().errors).toEqual([
      { field: 'csv', message: 'the first row must be a header with an email column' },
    ]);
    expect((await raw('text/csv', '')).statusCode).toBe(400);
  });

  it('when contacts are streamed as NDJSON, then a line that is not a contact is named by line and field and the rest are stored', async () => {
    const ndjson = [
      '{"email":"dee@stream.test","first_name":"Dee","fields":{"plan":"pro","score":7}}',
      '',
      '{"email":"eve@stream.test","time_zone":"Mars/Base"}',
      'not json',
      '{"email":"fay@stream.test","nickname":"F"}',
      '{"email":"gus@stream.test","last_name":"G"}',
    ].join('\n');
    const res = await raw('application/x-ndjson', ndjson);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ created: 2, existing: [], rejected: 3 });
    expect(res.json().rejected_rows).toEqual([
      { line: 3, field: 'time_zone', message: expect.stringMatching(/IANA/) },
      { line: 4, field: 'json', message: 'not a valid JSON object' },
      { line: 5, field: '(row)', message: expect.stringMatching(/nickname/) },
    ]);
    const { rows } = await svc.db.query(
      `SELECT email, last_name, fields FROM contacts WHERE email IN ('dee@stream.test', 'eve@stream.test', 'fay@stream.test', 'gus@stream.test') ORDER BY email`,
    );
    expect(rows).toEqual([
      { email: 'dee@stream.test', last_name: '', fields: { plan: 'pro', score: 7 } },
      { email: 'gus@stream.test', last_name: 'G', fields: {} },
    ]);
    // The OpenAPI document offers the JSON form and both streamed types on the one operation.
    const doc = (await svc.web.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths['/v1/contacts/bulk'].post.requestBody.content).sort()).toEqual([
      'application/json',
      'application/ndjson',
      'application/x-ndjson',
      'text/csv',
    ]);
  });

  it('when a key lacks the sequences scope, then 403', async () => {
    const readOnly = await apiAuth(svc, ['read']);
    const res = await svc.web.inject({ method: 'GET', url: '/v1/sequences', headers: readOnly });
    expect(res.statusCode).toBe(403);
  });

  it('when contacts are enrolled twice or unknown, then each contact has one active enrollment and unknown ids are listed', async () => {
    const { sequence, contacts } = await world(2);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const again = await api('POST', `/v1/sequences/${sequence.id}/enrollments`, {
      contact_ids: [...contacts, unknown],
    });
    expect(again.body).toEqual({ enrolled: [], already_enrolled: contacts, unknown_contact_ids: [unknown] });
    const list = await api('GET', `/v1/sequences/${sequence.id}/enrollments`);
    expect(list.body.enrollments).toHaveLength(2);
    const one = list.body.enrollments[0];
    const paused = await api('POST', `/v1/sequences/${sequence.id}/enrollments/${one.id}/pause`);
    expect(paused.body.status).toBe('paused');
    expect((await api('POST', `/v1/sequences/${sequence.id}/enrollments/${one.id}/pause`)).status).toBe(409);
    expect((await api('POST', `/v1/sequences/${sequence.id}/enrollments/${one.id}/resume`)).body.status).toBe(
      'active',
    );
    expect((await api('DELETE', `/v1/sequences/${sequence.id}/enrollments/${one.id}`)).status).toBe(204);
    const got = await api('GET', `/v1/sequences/${sequence.id}`);
    expect(got.body.steps).toHaveLength(2);
    expect(got.body.window).toEqual({ from: '09:00', to: '17:00' });
  });

  it('when a reply arrives through Inbound Parse quoting our Message-ID, then the enrollment stops as replied and the owner is DMed', async () => {
    now = new Date('2026-03-02T15:00:00Z');
    const { enrollments } = await world(1);
    await sendFirstSteps();
    const send = (
      await svc.db.query('SELECT * FROM sequence_sends WHERE enrollment_id = $1', [enrollments[0].id])
    ).rows[0];
    const boundary = '----x';
    const body = [
      `--${boundary}\r\nContent-Disposition: form-data; name="headers"\r\n\r\nFrom: P0 <p@prospect.test>\r\nIn-Reply-To: ${send.message_id_header}\r\nSubject: Re: Hi P0\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="from"\r\n\r\nP0 <p@prospect.test>\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="subject"\r\n\r\nRe: Hi P0\r\n`,
      `--${boundary}--\r\n`,
    ].join('');
    const post = (secret: string) =>
      svc.web.inject({
        method: 'POST',
        url: `/webhooks/inbound/${secret}`,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: body,
      });
    expect((await post('wrong')).statusCode).toBe(401);
    const res = await post(INBOUND);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ matched: 1 });
    expect((await enrollment(enrollments[0].id)).status).toBe('replied');
    const dm = await svc.db.query(`SELECT channel, text FROM slack_posts WHERE kind = 'sequence-reply'`);
    expect(dm.rows).toEqual([{ channel: 'UOWNER0001', text: expect.stringContaining('replied') }]);
    // Mail that matches nothing is still 2xx (SendGrid would retry otherwise).
    const other = body.replace(send.message_id_header, '<nobody@else>');
    const none = await svc.web.inject({
      method: 'POST',
      url: `/webhooks/inbound/${INBOUND}`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: other,
    });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ matched: 0 });
  });

  it('when SendGrid reports a bounce for a sequence mail, then the enrollment stops as bounced', async () => {
    now = new Date('2026-03-02T15:00:00Z');
    const { enrollments } = await world(2);
    await sendFirstSteps();
    const send = (
      await svc.db.query('SELECT * FROM sequence_sends WHERE enrollment_id = $1', [enrollments[0].id])
    ).rows[0];
    const timestamp = String(Math.floor(Date.now() / 1000));
    const payload = `${JSON.stringify([
      {
        email: 'p@prospect.test',
        timestamp: Number(timestamp),
        event: 'bounce',
        sg_event_id: `evt-${Math.random()}`,
        sg_message_id: 'xmid.filter',
        briefly_message_id: send.message_id,
        reason: '550 no such user',
        type: 'bounce',
      },
    ])}\r\n`;
    const res = await svc.web.inject({
      method: 'POST',
      url: '/webhooks/sendgrid',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signSendgrid(privateKey, timestamp, payload),
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect((await enrollment(enrollments[0].id)).status).toBe('bounced');
    expect((await enrollment(enrollments[1].id)).status).toBe('active');
  });

  it("when over 5% of a mailbox's sends today bounce, then the mailbox is paused and the alert channel is told", async () => {
    now = new Date('2026-03-02T15:00:00Z');
    const { enrollments, mailbox } = await world(20, 30);
    await sendFirstSteps();
    const sends = (
      await svc.db.query('SELECT message_id FROM sequence_sends WHERE mailbox_id = $1 ORDER BY id', [
        mailbox.id,
      ])
    ).rows;
    expect(sends).toHaveLength(20);
    const bounce = (messageId: string) => ({
      eventId: `evt-${Math.random()}`,
      type: 'bounced' as const,
      at: now,
      email: 'x@prospect.test',
      messageId,
      suppress: true,
      detail: {},
    });
    await svc.sequences.onDeliveryEvents([bounce(sends[0].message_id)]);
    expect((await api('GET', `/v1/mailboxes/${mailbox.id}`)).body.status).toBe('active'); // 1/20 = 5%
    await svc.sequences.onDeliveryEvents([bounce(sends[1].message_id)]);
    const paused = (await api('GET', `/v1/mailboxes/${mailbox.id}`)).body;
    expect(paused.status).toBe('paused');
    expect(paused.paused_reason).toMatch(/2\/20/);
    const alerts = await svc.db.query(
      `SELECT channel, text FROM slack_posts WHERE kind = 'sequence-mailbox-paused'`,
    );
    expect(alerts.rows).toEqual([{ channel: 'alert_channel', text: expect.stringContaining(mailbox.email) }]);
    expect(enrollments).toHaveLength(20);
  });

  it('when the one-click unsubscribe is posted with a valid signature, then 200 and the enrollment stops; a forged token is refused', async () => {
    now = new Date('2026-03-02T15:00:00Z');
    const { enrollments, contacts, sequence } = await world(1);
    await sendFirstSteps();
    const message = (
      await svc.db.query(
        'SELECT m.headers FROM sequence_sends s JOIN messages m ON m.id = s.message_id WHERE s.enrollment_id = $1',
        [enrollments[0].id],
      )
    ).rows[0];
    const link = /^<https:\/\/briefly\.test(\/u\/[^>]+)>$/.exec(
      message.headers['List-Unsubscribe'],
    )?.[1] as string;
    const forged = signUnsubscribe('another-secret', contacts[0], sequence.id);
    const bad = await svc.web.inject({
      method: 'POST',
      url: `/u/${forged}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(bad.statusCode).toBe(404);
    expect((await enrollment(enrollments[0].id)).status).toBe('active');
    const page = await svc.web.inject({ method: 'GET', url: link });
    expect(page.statusCode).toBe(200);
    expect((await enrollment(enrollments[0].id)).status).toBe('active');
    const res = await svc.web.inject({
      method: 'POST',
      url: link,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(res.statusCode).toBe(200);
    expect((await enrollment(enrollments[0].id)).status).toBe('unsubscribed');
    now = new Date('2026-03-04T15:00:00Z');
    await svc.sequences.planNow();
    expect((await enrollment(enrollments[0].id)).planned_at).toBeNull();
  });

  it("when the forecast is asked, then it shows each day's planned sends under the cap, the rest moving to later days", async () => {
    now = new Date('2026-03-02T13:00:00Z'); // Monday 08:00 New York
    const { sequence, mailbox } = await world(25, 10);
    const res = await api('GET', `/v1/sequences/${sequence.id}/forecast`);
    expect(res.status).toBe(200);
    const planned = res.body.days.map((d: { mailboxes: { planned: number }[] }) => d.mailboxes[0]?.planned);
    // Mon 10, Tue 10, Wed 5; weekends are not sending days in this sequence.
    expect(planned).toEqual([10, 10, 5, 0, 0, 0, 0]);
    expect(res.body.days[0].mailboxes[0]).toMatchObject({ mailbox_id: mailbox.id, capacity: 10 });
  });
});
