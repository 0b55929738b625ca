import { createHash } from 'node:crypto';
import { appointmentCopyMessage } from '../../blocks/appointments.ts';
import { renderAppointmentEmail } from '../../emails/appointment.tsx';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { RepRepository } from '../reps/rep.repository.ts';
import type { Clock } from '../shared/time.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import type { AppointmentRepository, AppointmentRow, MailRow, ServiceRow } from './appointment.repository.ts';
import type { AppointmentEffects } from './appointment.service.ts';
import { buildInvite } from './appointment-invite.ts';

export const MESSAGE_KIND = 'appointment';
/** A reminder whose moment passed less than this ago (Redis lost it) is still sent, late. */
const LATE_REMINDER_MS = 15 * 60_000;
/** Outbox rows older than this without a message are re-enqueued by the sweep. */
const OUTBOX_GRACE_MS = 30_000;

/** A UUID derived from a key: the reserved `messages.id` of a mail, so a retry stores it once. */
export function derivedUuid(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const mailJobId = (mailId: string) => `appt-mail-${mailId}`;
export const reminderJobId = (appointmentId: string, sequence: number, offset: number) =>
  `appt-rem-${appointmentId}-${sequence}-${offset}`;

interface ReminderData {
  appointment_id: string;
  sequence: number;
  offset_minutes: number;
  start: string;
}

export interface AppointmentMailerDeps {
  repo: AppointmentRepository;
  reps: RepRepository;
  delivery: DeliveryService;
  queues: Queues;
  /** Absent when Slack is not connected: the rep's copy then goes by email. */
  slackPosts?: SlackPostService;
  clock: Clock;
  logger: Logger;
  messageIdDomain: string;
}

/** After-commit effects: enqueue what the outbox row or the booking asks for; the sweep covers failures. */
export function appointmentEffects(deps: AppointmentMailerDeps): AppointmentEffects {
  const log = deps.logger;
  const queue = () => deps.queues.get('appointments');
  return {
    mailWritten(mail) {
      if (!deps.queues.ready()) return;
      void queue()
        .add('mail', { mail_id: mail.id }, { jobId: mailJobId(mail.id) })
        .catch((error: Error) =>
          log.warn('appointment mail left to the sweep', { mail_id: mail.id, error: error.message }),
        );
    },
    scheduleReminders(row, service) {
      if (!deps.queues.ready()) return;
      void scheduleReminders(deps, row, service).catch((error: Error) =>
        log.warn('appointment reminders left to the sweep', { appointment_id: row.id, error: error.message }),
      );
    },
  };
}

async function scheduleReminders(deps: AppointmentMailerDeps, row: AppointmentRow, service: ServiceRow) {
  const queue = deps.queues.get('appointments');
  const now = deps.clock.now().getTime();
  // The previous version's reminders would be skipped at send time anyway; removing them keeps the queue honest.
  if (row.sequence > 0) {
    await Promise.all(
      service.reminder_minutes.map((offset) =>
        queue.remove(reminderJobId(row.id, row.sequence - 1, offset)).catch(() => 0),
      ),
    );
  }
  for (const offset of service.reminder_minutes) {
    const due = row.starts_at.getTime() - offset * 60_000;
    if (due <= now - LATE_REMINDER_MS || row.starts_at.getTime() <= now) continue;
    const data: ReminderData = {
      appointment_id: row.id,
      sequence: row.sequence,
      offset_minutes: offset,
      start: row.starts_at.toISOString(),
    };
    await queue.add('reminder', data, {
      jobId: reminderJobId(row.id, row.sequence, offset),
      delay: Math.max(0, due - now),
    });
  }
}

export function appointmentJobHandlers(deps: AppointmentMailerDeps): JobHandlers {
  const { repo } = deps;

  async function sendMail(mail: MailRow): Promise<string> {
    const appointment = await repo.get(mail.appointment_id);
    if (!appointment) {
      await repo.markMailDone(mail.id);
      return 'appointment gone';
    }
    // A later change has its own mail with the current state and a higher SEQUENCE.
    if (appointment.sequence > mail.sequence && mail.type !== 'cancellation') {
      await repo.markMailDone(mail.id);
      return 'superseded';
    }
    const [service, rep] = await Promise.all([
      repo.getService(appointment.service_id),
      deps.reps.findById(appointment.rep_id),
    ]);
    if (!service || !rep) {
      await repo.markMailDone(mail.id);
      return 'service or rep gone';
    }
    const base = {
      serviceName: service.name,
      repName: rep.name,
      attendeeName: appointment.attendee.name,
      start: appointment.starts_at.toISOString(),
      end: appointment.ends_at.toISOString(),
      location: appointment.location,
      reason: mail.type === 'cancellation' ? appointment.cancel_reason : null,
    };
    const cancel = mail.type === 'cancellation';
    const ics = buildInvite({
      appointmentId: appointment.id,
      sequence: mail.sequence,
      method: cancel ? 'CANCEL' : 'REQUEST',
      start: appointment.starts_at,
      end: appointment.ends_at,
      timeZone: appointment.attendee.time_zone,
      summary: `${service.name} with ${rep.name}`,
      description: service.description || undefined,
      location: appointment.location,
      organizer: { name: rep.name, email: rep.email },
      attendee: { name: appointment.attendee.name, email: appointment.attendee.email },
      domain: deps.messageIdDomain,
      stamp: deps.clock.now(),
    });
    const email = await renderAppointmentEmail({
      ...base,
      type: mail.type,
      audience: 'attendee',
      timeZone: appointment.attendee.time_zone,
    });
    await deps.delivery.sendInternal({
      id: mail.id,
      kind: MESSAGE_KIND,
      to: [{ email: appointment.attendee.email, name: appointment.attendee.name }],
      replyTo: { email: rep.email, name: rep.name },
      subject: email.subject,
      html: email.html,
      text: email.text,
      priority: 'high',
      tags: ['appointment', mail.type],
      metadata: { appointment_id: appointment.id, sequence: mail.sequence, mail: mail.type },
      attachments: [
        {
          filename: cancel ? 'cancel.ics' : 'invite.ics',
          contentType: `text/calendar; method=${cancel ? 'CANCEL' : 'REQUEST'}`,
          content: Buffer.from(ics, 'utf8'),
        },
      ],
    });
    // The rep's copy: a Slack DM when the rep takes DMs and Slack is connected, else an email.
    if (deps.slackPosts && rep.slackDm && rep.slackUserId) {
      await deps.slackPosts.post(
        `appointment-copy:${mail.id}`,
        rep.slackUserId,
        appointmentCopyMessage({
          ...base,
          type: mail.type,
          attendee: appointment.attendee,
          timeZone: rep.timeZone,
        }),
        { kind: 'appointment-copy' },
      );
    } else {
      const copy = await renderAppointmentEmail({
        ...base,
        type: mail.type,
        audience: 'rep',
        timeZone: rep.timeZone,
      });
      await deps.delivery.sendInternal({
        id: derivedUuid(`appointment-copy:${mail.id}`),
        kind: MESSAGE_KIND,
        to: [{ email: rep.email, name: rep.name }],
        subject: copy.subject,
        html: copy.html,
        text: copy.text,
        tags: ['appointment', `${mail.type}-copy`],
        metadata: { appointment_id: appointment.id, sequence: mail.sequence, mail: `${mail.type}-copy` },
      });
    }
    await repo.markMailDone(mail.id);
    return 'handed to delivery';
  }

  return {
    appointments: {
      mail: async (job) => {
        const mail = await repo.mail(String(job.data.mail_id));
        if (!mail || mail.done_at) return 'already done';
        return sendMail(mail);
      },
      reminder: async (job) => {
        const data = job.data as ReminderData;
        const appointment = await repo.get(data.appointment_id);
        // Re-checked at send time: a cancelled or moved appointment never gets a stale reminder.
        if (
          appointment?.status !== 'booked' ||
          appointment.sequence !== data.sequence ||
          appointment.starts_at.toISOString() !== data.start ||
          appointment.starts_at.getTime() <= deps.clock.now().getTime()
        ) {
          return 'stale';
        }
        const [service, rep] = await Promise.all([
          repo.getService(appointment.service_id),
          deps.reps.findById(appointment.rep_id),
        ]);
        if (!service || !rep) return 'service or rep gone';
        const email = await renderAppointmentEmail({
          type: 'reminder',
          audience: 'attendee',
          serviceName: service.name,
          repName: rep.name,
          attendeeName: appointment.attendee.name,
          start: appointment.starts_at.toISOString(),
          end: appointment.ends_at.toISOString(),
          timeZone: appointment.attendee.time_zone,
          location: appointment.location,
        });
        const sent = await deps.delivery.sendInternal({
          id: derivedUuid(`appointment-reminder:${appointment.id}:${data.sequence}:${data.offset_minutes}`),
          kind: MESSAGE_KIND,
          to: [{ email: appointment.attendee.email, name: appointment.attendee.name }],
          replyTo: { email: rep.email, name: rep.name },
          subject: email.subject,
          html: email.html,
          text: email.text,
          priority: 'high',
          tags: ['appointment', 'reminder'],
          metadata: {
            appointment_id: appointment.id,
            sequence: data.sequence,
            mail: 'reminder',
            offset_minutes: data.offset_minutes,
          },
        });
        return { message_id: sent.id };
      },
      sweep: async () => {
        const now = deps.clock.now();
        const pending = await repo.pendingMails(new Date(now.getTime() - OUTBOX_GRACE_MS), 1_000);
        const queue = deps.queues.get('appointments');
        for (const id of pending) await queue.add('mail', { mail_id: id }, { jobId: mailJobId(id) });
        const services = new Map((await repo.listServices()).map((s) => [s.id, s]));
        const horizonMinutes = Math.max(0, ...[...services.values()].flatMap((s) => s.reminder_minutes));
        const upcoming = await repo.bookedStartingBetween(
          now,
          new Date(now.getTime() + (horizonMinutes + 1) * 60_000),
          5_000,
        );
        for (const row of upcoming) {
          const service = services.get(row.service_id);
          if (service) await scheduleReminders(deps, row, service);
        }
        return { mails: pending.length, appointments: upcoming.length };
      },
    },
  };
}
