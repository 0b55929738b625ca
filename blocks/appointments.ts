import type { KnownBlock } from '@slack/types';
import { formatWhen } from '../emails/appointment.tsx';
import { context, escapeMrkdwn, section, truncate } from './common.ts';

export interface AppointmentCopyData {
  type: 'confirmation' | 'update' | 'cancellation';
  serviceName: string;
  attendee: { name: string; email: string };
  start: string;
  end: string;
  /** The rep's zone. */
  timeZone: string;
  location?: string | null;
  reason?: string | null;
}

const VERBS = { confirmation: 'Booked', update: 'Changed', cancellation: 'Cancelled' } as const;

/** The rep's copy of a mail sent to an attendee, as a Slack DM. */
export function appointmentCopyMessage(data: AppointmentCopyData): { text: string; blocks: KnownBlock[] } {
  const when = formatWhen(data.start, data.end, data.timeZone);
  const title = `${VERBS[data.type]}: ${data.serviceName} with ${data.attendee.name}`;
  const lines = [
    `*${escapeMrkdwn(truncate(title, 200))}*`,
    escapeMrkdwn(when),
    ...(data.location && data.type !== 'cancellation' ? [escapeMrkdwn(truncate(data.location, 500))] : []),
    ...(data.reason ? [`Reason: ${escapeMrkdwn(truncate(data.reason, 500))}`] : []),
  ];
  return {
    text: `${title} (${when})`,
    blocks: [
      section(lines.join('\n')),
      context(
        `The attendee (${escapeMrkdwn(data.attendee.email)}) got the ${data.type === 'cancellation' ? 'cancellation' : 'invitation'} by email.`,
      ),
    ],
  };
}
