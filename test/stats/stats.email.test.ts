import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let now = new Date('2026-12-01T03:00:00Z'); // 08:30 in Kolkata
const clock = { now: () => now };
let svc: TestService;
let auth: { authorization: string };

beforeAll(async () => {
  svc = await startTestService({ SLACK_BOT_TOKEN: undefined, SLACK_SIGNING_SECRET: undefined }, 'all', {
    clock,
  });
  auth = await apiAuth(svc);
  // Something to count: two messages on 30 Nov in Kolkata.
  for (const [at, status] of [
    ['2026-11-30T04:00:00Z', 'delivered'],
    ['2026-11-30T10:00:00Z', 'bounced'],
  ]) {
    await svc.db.query(
      `INSERT INTO messages (kind, status, provider, from_address, "to", subject, created_at, updated_at)
       VALUES ('api', $1, 'smtp', '{"email":"b@acme.test"}', '[{"email":"x@client.test"}]', 's', $2, $2)`,
      [status, at],
    );
  }
});
afterAll(async () => svc.close());

const statsMessages = async () =>
  (
    await svc.db.query(
      `SELECT id, status, subject, html, text, "to", metadata FROM messages WHERE kind = 'stats' ORDER BY created_at`,
    )
  ).rows;

describe('daily stats email', () => {
  let recipientId: string;

  it('when a recipient is added with bad fields, then 400 names them; a second entry for the same address is 409', async () => {
    const bad = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-recipients',
      headers: auth,
      payload: { email: 'not-an-address', time: '25:00', time_zone: 'Kolkata' },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .errors.map((e: { field: string }) => e.field)
        .sort(),
    ).toEqual(['email', 'time', 'time_zone']);
    const ok = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-recipients',
      headers: auth,
      payload: { email: 'Ops@Acme.test', name: 'Ops team', time_zone: 'Asia/Kolkata' },
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ email: 'ops@acme.test', time: '09:00', time_zone: 'Asia/Kolkata' });
    recipientId = ok.json().id;
    const dup = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-recipients',
      headers: auth,
      payload: { email: 'OPS@acme.test', time_zone: 'UTC' },
    });
    expect(dup.statusCode).toBe(409);
    const list = await svc.web.inject({ method: 'GET', url: '/v1/stats-recipients', headers: auth });
    expect(list.json().recipients).toHaveLength(1);
  });

  it('when 09:00 passes in the recipient’s zone, then one email of kind stats goes through the delivery layer with the chart inline', async () => {
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });
    now = new Date('2026-12-01T03:31:00Z'); // 09:01 IST
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 1 });
    await vi.waitFor(async () => expect(await statsMessages()).toHaveLength(1), { timeout: 20_000 });
    const [message] = await statsMessages();
    expect(message.subject).toBe('Briefly daily stats for Mon 30 Nov 2026');
    expect(message.to).toEqual([{ email: 'ops@acme.test', name: 'Ops team' }]);
    expect(message.metadata).toMatchObject({ local_date: '2026-12-01', report_date: '2026-11-30' });
    expect(message.text).toContain('2 messages accepted');
    expect(message.text).toContain('By status: bounced 1, delivered 1');
    expect(message.text).toContain('Asia/Kolkata, IST (UTC+5:30)');
    expect(message.html).toContain('src="cid:stats-chart"');
    const attachments = (
      await svc.db.query(
        'SELECT filename, content_type, disposition, content_id, size, content FROM message_attachments WHERE message_id = $1',
        [message.id],
      )
    ).rows;
    expect(attachments).toHaveLength(1);
    expect(attachments[0]).toMatchObject({
      filename: 'stats-chart.png',
      content_type: 'image/png',
      disposition: 'inline',
      content_id: 'stats-chart',
    });
    expect((attachments[0].content as Buffer).subarray(0, 4).toString('hex')).toBe('89504e47');
    // The delivery layer sends it (file outbox in tests).
    await vi.waitFor(async () => expect((await statsMessages())[0]?.status).toBe('sent'), {
      timeout: 20_000,
    });
  });

  it('when the day is run again (next tick, a retried or duplicated job), then no second email is stored or sent', async () => {
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });
    await svc.stats.service.runEmail(recipientId, '2026-12-01');
    await svc.queues
      .get('stats')
      .add(
        'email',
        { recipient_id: recipientId, local_date: '2026-12-01' },
        { jobId: 'stats-email-duplicate' },
      );
    await vi.waitFor(async () =>
      expect(await svc.queues.get('stats').getJobState('stats-email-duplicate')).toBe('completed'),
    );
    const messages = await statsMessages();
    expect(messages).toHaveLength(1);
    const events = await svc.db.query(
      "SELECT count(*)::int AS n FROM message_events WHERE message_id = $1 AND type = 'sent'",
      [messages[0].id],
    );
    expect(events.rows[0].n).toBe(1);
  });

  it('when the next local day’s 09:00 passes, then the next email goes out (one per day)', async () => {
    now = new Date('2026-12-02T03:31:00Z');
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 1 });
    await vi.waitFor(async () => expect(await statsMessages()).toHaveLength(2), { timeout: 20_000 });
    expect((await statsMessages())[1].subject).toBe('Briefly daily stats for Tue 1 Dec 2026');
    const removed = await svc.web.inject({
      method: 'DELETE',
      url: `/v1/stats-recipients/${recipientId}`,
      headers: auth,
    });
    expect(removed.statusCode).toBe(204);
    now = new Date('2026-12-03T03:31:00Z');
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });
  });
});
