import type { KnownBlock, ModalView } from '@slack/types';
import { formatWhen } from '../emails/appointment.tsx';
import { context, escapeMrkdwn, header, plain, section, truncate } from './common.ts';
import { ACTIONS, APPOINTMENT_FORM_BLOCKS, CALLBACKS, INPUT_ACTION } from './ids.ts';

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

export const APPOINTMENTS_LIST_LIMIT = 20;

export interface AppointmentListItem {
  id: string;
  serviceName: string;
  attendee: { name: string; email: string };
  start: string;
  end: string;
  location: string | null;
}

/** `/appointments`: the rep's upcoming appointments, each with Reschedule and Cancel. */
export function appointmentsListMessage(data: {
  items: AppointmentListItem[];
  timeZone: string;
  more: boolean;
}): { text: string; blocks: KnownBlock[] } {
  const blocks: KnownBlock[] = [
    header(`Your upcoming appointments (${data.items.length}${data.more ? '+' : ''})`),
  ];
  if (data.items.length === 0) blocks.push(section('Nothing booked ahead.'));
  for (const item of data.items.slice(0, APPOINTMENTS_LIST_LIMIT)) {
    blocks.push(
      section(
        [
          `*${escapeMrkdwn(truncate(`${item.serviceName} with ${item.attendee.name}`, 200))}*`,
          escapeMrkdwn(formatWhen(item.start, item.end, data.timeZone)),
          escapeMrkdwn(truncate([item.attendee.email, item.location].filter(Boolean).join(' · '), 600)),
        ].join('\n'),
      ),
      {
        type: 'actions',
        block_id: `appointment_actions:${item.id}`,
        elements: [
          {
            type: 'button',
            action_id: ACTIONS.appointmentReschedule,
            text: plain('Reschedule'),
            value: item.id,
          },
          {
            type: 'button',
            action_id: ACTIONS.appointmentCancel,
            text: plain('Cancel'),
            style: 'danger',
            value: item.id,
            confirm: {
              title: plain('Cancel this appointment?'),
              text: plain(`The attendee gets a cancellation for their calendar.`, 300),
              confirm: plain('Cancel it'),
              deny: plain('Keep it'),
            },
          },
        ],
      },
    );
  }
  if (data.more) blocks.push(context(`Showing the next ${APPOINTMENTS_LIST_LIMIT}.`));
  blocks.push({
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.appointmentNew,
        text: plain('Book an appointment'),
        style: 'primary',
      },
    ],
  });
  return { text: `Your upcoming appointments: ${data.items.length}${data.more ? '+' : ''}`, blocks };
}

export interface AppointmentFormData {
  services: { id: string; name: string; duration_minutes: number }[];
  /** The rep's zone: the date and time pickers are read in it. */
  timeZone: string;
  privateMetadata: string;
  /** Reschedule: the current values. */
  initial?: {
    serviceId: string;
    date: string;
    time: string;
    attendeeName: string;
    attendeeEmail: string;
    attendeeTimeZone: string;
    location: string | null;
  };
}

const input = (
  blockId: string,
  label: string,
  element: Record<string, unknown>,
  options: { optional?: boolean; hint?: string } = {},
): KnownBlock =>
  ({
    type: 'input',
    block_id: blockId,
    label: plain(label, 2000),
    optional: options.optional ?? false,
    ...(options.hint ? { hint: plain(options.hint, 2000) } : {}),
    element: { action_id: INPUT_ACTION, ...element },
  }) as KnownBlock;

/** The booking (or reschedule) modal. Times are picked in the rep's zone, which the modal names. */
export function appointmentFormView(data: AppointmentFormData): ModalView {
  const option = (s: { id: string; name: string; duration_minutes: number }) => ({
    text: plain(`${s.name} (${s.duration_minutes} min)`),
    value: s.id,
  });
  const options = data.services.slice(0, 100).map(option);
  const initialService = options.find((o) => o.value === data.initial?.serviceId);
  const rescheduling = Boolean(data.initial);
  const blocks: KnownBlock[] = [
    input(APPOINTMENT_FORM_BLOCKS.service, 'Service', {
      type: 'static_select',
      options: options.length ? options : [{ text: plain('No active service'), value: 'none' }],
      ...(initialService ? { initial_option: initialService } : {}),
    }),
    input(APPOINTMENT_FORM_BLOCKS.date, 'Date', {
      type: 'datepicker',
      ...(data.initial ? { initial_date: data.initial.date } : {}),
    }),
    input(
      APPOINTMENT_FORM_BLOCKS.time,
      `Start time (${data.timeZone})`,
      { type: 'timepicker', ...(data.initial ? { initial_time: data.initial.time } : {}) },
      { hint: `In your time zone, ${data.timeZone}. The attendee's email shows it in theirs.` },
    ),
    input(APPOINTMENT_FORM_BLOCKS.attendeeName, 'Attendee name', {
      type: 'plain_text_input',
      max_length: 120,
      ...(data.initial ? { initial_value: data.initial.attendeeName } : {}),
    }),
    input(APPOINTMENT_FORM_BLOCKS.attendeeEmail, 'Attendee email', {
      type: 'email_text_input',
      ...(data.initial ? { initial_value: data.initial.attendeeEmail } : {}),
    }),
    input(
      APPOINTMENT_FORM_BLOCKS.attendeeTimeZone,
      'Attendee time zone',
      {
        type: 'plain_text_input',
        max_length: 64,
        placeholder: plain(data.timeZone),
        ...(data.initial ? { initial_value: data.initial.attendeeTimeZone } : {}),
      },
      { optional: true, hint: `An IANA zone such as America/New_York; empty means ${data.timeZone}.` },
    ),
    input(
      APPOINTMENT_FORM_BLOCKS.location,
      'Location or meeting link',
      {
        type: 'plain_text_input',
        max_length: 500,
        ...(data.initial?.location ? { initial_value: data.initial.location } : {}),
      },
      { optional: true },
    ),
  ];
  if (!rescheduling) {
    blocks.push(
      input(
        APPOINTMENT_FORM_BLOCKS.notes,
        'Notes',
        { type: 'plain_text_input', multiline: true, max_length: 3000 },
        {
          optional: true,
          hint: 'Kept with the appointment and shown in your briefing; not sent to the attendee.',
        },
      ),
    );
  }
  return {
    type: 'modal',
    callback_id: CALLBACKS.appointmentForm,
    private_metadata: data.privateMetadata,
    title: plain(rescheduling ? 'Reschedule' : 'Book an appointment', 24),
    submit: plain(rescheduling ? 'Save' : 'Book', 24),
    close: plain('Cancel', 24),
    blocks,
  };
}
