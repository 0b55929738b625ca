import { DEMO_CALENDAR_URL, DEMO_REP_EMAIL } from '../calendars/demo/demo-calendar.ts';
import type { Logger } from '../logging/logger.ts';
import type { Service } from '../main.ts';

export const DEMO_REP = {
  name: 'Demo Rep',
  email: DEMO_REP_EMAIL,
  time_zone: 'Europe/London',
};

/**
 * `briefly demo`: a rep backed by the bundled sample ICS calendar (daily meetings with external
 * attendees), connected, synced and sent today's briefing through the delivery layer, so a fresh
 * machine shows a real briefing (an .eml in the outbox without an email provider).
 */
export async function runDemo(service: Service, logger: Logger, options: { waitMs?: number } = {}) {
  const existing = await service.reps.findByEmail(DEMO_REP.email);
  const rep = existing ?? (await service.reps.create(DEMO_REP, { id: 'cli' }));
  const row = { id: rep.id, email: DEMO_REP.email, timeZone: existing?.timeZone ?? DEMO_REP.time_zone };
  const connected = await service.briefings.connect.connectIcs(row, DEMO_CALENDAR_URL, 'cli');
  if (connected.kind !== 'connected' || connected.outcome.status !== 'synced') {
    throw new Error(`the demo calendar did not sync: ${JSON.stringify(connected)}`);
  }
  const sent = await service.briefings.service.sendNow(rep.id);
  if (!sent.messageId) throw new Error(`the demo briefing was not sent: ${sent.status}`);
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  let message = await service.delivery.service.get(sent.messageId);
  while (!['sent', 'delivered', 'failed'].includes(message.status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    message = await service.delivery.service.get(sent.messageId);
  }
  logger.info('demo briefing', { rep_id: rep.id, message_id: sent.messageId, status: message.status });
  return { repId: rep.id, messageId: sent.messageId, status: message.status, provider: message.provider };
}
