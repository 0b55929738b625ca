import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accepted, startFakeSendgrid } from '../helpers/fake-sendgrid.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/**
 * DELIVERY_ATTACHMENTS_IN_FLIGHT_BYTES: with 250 sends in flight, 10 MB attachments each would be
 * gigabytes in one worker. Sends whose attachments do not fit the budget wait for it, keeping
 * their claim alive; the others go on. Real PostgreSQL, Redis, BullMQ worker and HTTP.
 */
const ATTACHMENT = Buffer.alloc(700 * 1024, 7);
let sendgrid: Awaited<ReturnType<typeof startFakeSendgrid>>;
let svc: TestService;
let inFlight = 0;
let mostInFlight = 0;

beforeAll(async () => {
  sendgrid = await startFakeSendgrid(async (r) => {
    if (r.sandbox) return { status: 200 };
    const withAttachment = Array.isArray(r.body.attachments);
    if (withAttachment) mostInFlight = Math.max(mostInFlight, ++inFlight);
    // Slow enough that the next send with an attachment would overlap if it were not held back.
    await new Promise((resolve) => setTimeout(resolve, withAttachment ? 600 : 0));
    if (withAttachment) inFlight--;
    return accepted(r.id);
  });
  svc = await startTestService(
    {
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.test-key-0123456789',
      SENDGRID_BASE_URL: sendgrid.url,
      DELIVERY_ATTACHMENTS_IN_FLIGHT_BYTES: String(1024 * 1024),
      // Short leases: a send waiting for the budget longer than a lease must keep its claim.
      DELIVERY_LOCK_MS: '1000',
    },
    'all',
  );
});
afterAll(async () => {
  await svc.close();
  await sendgrid.close();
});

describe('attachment bytes in flight', () => {
  it('when several messages with large attachments are due at once, then they go one budget at a time, each once, and plain messages are not held back', async () => {
    const withAttachments = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        svc.delivery.service.sendInternal({
          kind: 'test',
          to: [{ email: `ana${i}@client.test` }],
          subject: `Report ${i}`,
          text: 'Attached.',
          attachments: [{ filename: `report-${i}.pdf`, contentType: 'application/pdf', content: ATTACHMENT }],
        }),
      ),
    );
    const plain = await svc.delivery.service.sendInternal({
      kind: 'test',
      to: [{ email: 'bo@client.test' }],
      subject: 'No attachment',
      text: 'Hello',
    });
    const status = async (id: string) =>
      (await svc.db.query('SELECT status FROM messages WHERE id = $1', [id])).rows[0]?.status;
    await vi.waitFor(async () => expect(await status(plain.id)).toBe('sent'), {
      timeout: 3_000,
      interval: 50,
    });
    // The plain message did not wait for the four held-back sends (4 x 600 ms one at a time).
    expect(await Promise.all(withAttachments.map((m) => status(m.id)))).not.toEqual([
      'sent',
      'sent',
      'sent',
      'sent',
    ]);
    await vi.waitFor(
      async () =>
        expect(await Promise.all(withAttachments.map((m) => status(m.id)))).toEqual([
          'sent',
          'sent',
          'sent',
          'sent',
        ]),
      { timeout: 15_000, interval: 100 },
    );
    expect(mostInFlight).toBe(1);
    for (const m of withAttachments) expect(sendgrid.sendsOf(m.id)).toHaveLength(1);
    // Waiting longer than a lease (1 s) did not lose any claim: one `sending` event per message.
    const { rows } = await svc.db.query(
      `SELECT message_id, count(*)::int AS n FROM message_events
       WHERE type = 'sending' AND message_id = ANY($1::uuid[]) GROUP BY message_id`,
      [withAttachments.map((m) => m.id)],
    );
    expect(rows.map((r) => r.n)).toEqual([1, 1, 1, 1]);
  });
});
