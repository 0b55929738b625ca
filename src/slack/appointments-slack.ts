import type { WebClient } from '@slack/web-api';
import { DateTime } from 'luxon';
import {
  type AppointmentListItem,
  appointmentFormView,
  appointmentsListMessage,
} from '../../blocks/appointments.ts';
import type { RepRow } from '../reps/rep.repository.ts';
import type { SlackDeps } from './deps.ts';

export const NOT_A_REP =
  'You are not a Briefly rep yet, so you have no appointments. Ask a manager to add you with `/reps add`.';

/** The rep's next appointments (booked, not ended), times in the rep's zone. */
export async function upcomingMessage(deps: SlackDeps, rep: RepRow, now = new Date()) {
  const [page, services] = await Promise.all([
    deps.appointments.list({ rep_id: rep.id, status: 'booked', from: now.toISOString(), limit: 20 }),
    deps.appointments.listServices(),
  ]);
  const names = new Map(services.services.map((s) => [s.id, s.name]));
  const items: AppointmentListItem[] = page.appointments.map((a) => ({
    id: a.id,
    serviceName: names.get(a.service_id) ?? 'Appointment',
    attendee: a.attendee,
    start: a.start,
    end: a.end,
    location: a.location,
  }));
  return appointmentsListMessage({ items, timeZone: rep.timeZone, more: page.next_cursor !== null });
}

/** Opens the booking modal, or the reschedule modal for `appointmentId` (prefilled, in the rep's zone). */
export async function openAppointmentForm(
  client: WebClient,
  triggerId: string,
  deps: SlackDeps,
  rep: RepRow,
  meta: { appointmentId?: string; channelId?: string },
): Promise<void> {
  const services = (await deps.appointments.listServices()).services.filter((s) => s.active);
  let initial: Parameters<typeof appointmentFormView>[0]['initial'];
  if (meta.appointmentId) {
    const a = await deps.appointments.get(meta.appointmentId);
    const start = DateTime.fromISO(a.start, { zone: rep.timeZone });
    initial = {
      serviceId: a.service_id,
      date: start.toFormat('yyyy-MM-dd'),
      time: start.toFormat('HH:mm'),
      attendeeName: a.attendee.name,
      attendeeEmail: a.attendee.email,
      attendeeTimeZone: a.attendee.time_zone,
      location: a.location,
    };
  }
  await client.views.open({
    trigger_id: triggerId,
    view: appointmentFormView({
      services,
      timeZone: rep.timeZone,
      privateMetadata: JSON.stringify(meta),
      initial,
    }),
  });
}
