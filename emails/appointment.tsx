import { Heading } from '@react-email/heading';
import { render } from '@react-email/render';
import { Text } from '@react-email/text';
import { DateTime } from 'luxon';
import { createElement } from 'react';
import { Layout } from './_components/layout.tsx';

export type AppointmentMailType = 'confirmation' | 'update' | 'cancellation' | 'reminder';

export interface AppointmentEmailProps {
  type: AppointmentMailType;
  /** Who reads it: the attendee, or the rep getting a copy. */
  audience: 'attendee' | 'rep';
  serviceName: string;
  repName: string;
  attendeeName: string;
  start: string;
  end: string;
  /** The reader's zone: every time is written in it, with the zone named. */
  timeZone: string;
  location?: string | null;
  reason?: string | null;
}

/** "Sunday 1 November 2026, 08:30–09:00 (America/New_York, EST)" */
export function formatWhen(start: string, end: string, zone: string): string {
  const s = DateTime.fromISO(start, { zone });
  const e = DateTime.fromISO(end, { zone });
  const sameDay = s.hasSame(e, 'day');
  return `${s.toFormat('cccc d LLLL yyyy, HH:mm')}–${e.toFormat(sameDay ? 'HH:mm' : 'cccc d LLLL yyyy, HH:mm')} (${zone}, ${s.offsetNameShort ?? s.toFormat('ZZ')})`;
}

const HEADINGS: Record<AppointmentMailType, (p: AppointmentEmailProps) => string> = {
  confirmation: (p) => `${p.serviceName} with ${p.audience === 'rep' ? p.attendeeName : p.repName} is booked`,
  update: (p) => `${p.serviceName} with ${p.audience === 'rep' ? p.attendeeName : p.repName} has changed`,
  cancellation: (p) =>
    `${p.serviceName} with ${p.audience === 'rep' ? p.attendeeName : p.repName} is cancelled`,
  reminder: (p) => `Reminder: ${p.serviceName} with ${p.audience === 'rep' ? p.attendeeName : p.repName}`,
};

export function appointmentSubject(props: AppointmentEmailProps): string {
  return HEADINGS[props.type](props);
}

export default function AppointmentEmail(props: AppointmentEmailProps) {
  const heading = HEADINGS[props.type](props);
  const when = formatWhen(props.start, props.end, props.timeZone);
  const greeting = `Hello ${props.audience === 'rep' ? props.repName : props.attendeeName},`;
  return (
    <Layout preview={`${heading}: ${when}`}>
      <Heading as="h1" style={{ fontSize: '22px', margin: '0 0 16px' }}>
        {heading}
      </Heading>
      <Text style={{ fontSize: '15px' }}>{greeting}</Text>
      <Text style={{ fontSize: '15px', fontWeight: 'bold' }}>
        {props.type === 'cancellation' ? `Was: ${when}` : `When: ${when}`}
      </Text>
      {props.location && props.type !== 'cancellation' ? (
        <Text style={{ fontSize: '15px' }}>Where: {props.location}</Text>
      ) : null}
      {props.reason ? <Text style={{ fontSize: '15px' }}>Reason: {props.reason}</Text> : null}
      <Text style={{ fontSize: '15px', color: '#374151' }}>
        {props.type === 'cancellation'
          ? 'The attached cancellation removes the event from your calendar.'
          : props.type === 'reminder'
            ? 'See you soon.'
            : 'The attached invitation adds (or updates) the event in your calendar.'}
      </Text>
    </Layout>
  );
}

AppointmentEmail.PreviewProps = {
  type: 'confirmation',
  audience: 'attendee',
  serviceName: 'Product demo',
  repName: 'Rita Rep',
  attendeeName: 'Ana Client',
  start: '2026-11-01T13:30:00.000Z',
  end: '2026-11-01T14:00:00.000Z',
  timeZone: 'America/New_York',
  location: 'https://meet.example.com/abc',
} satisfies AppointmentEmailProps;

export async function renderAppointmentEmail(
  props: AppointmentEmailProps,
): Promise<{ subject: string; html: string; text: string }> {
  const element = createElement(AppointmentEmail, props);
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { subject: appointmentSubject(props), html, text };
}
