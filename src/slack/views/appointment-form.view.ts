import type { App } from '@slack/bolt';
import { z } from 'zod';
import { APPOINTMENT_FORM_BLOCKS, CALLBACKS } from '../../../blocks/ids.ts';
import { AppError, isAppError } from '../../errors.ts';
import { NOT_A_REP } from '../appointments-slack.ts';
import type { SlackDeps } from '../deps.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

const metadata = z.object({ appointmentId: z.uuid().optional(), channelId: z.string().optional() }).catch({});

/** API field (as AppError names it) -> the modal block that shows the error. */
const FIELD_BLOCKS: [RegExp, keyof typeof APPOINTMENT_FORM_BLOCKS][] = [
  [/^start$|^end$/, 'time'],
  [/^service_id$|^rep_id$/, 'service'],
  [/^attendee\.name$/, 'attendeeName'],
  [/^attendee\.email$/, 'attendeeEmail'],
  [/^attendee\.time_zone$|^time_zone$/, 'attendeeTimeZone'],
  [/^location$/, 'location'],
];

/**
 * The booking / reschedule modal's submission. Everything is checked before the ack, because only
 * the ack can show errors on the fields (`response_action: errors`): a conflict shows on the time.
 */
export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.appointmentForm, async ({ ack, body, view }) => {
    const values = view.state.values as ViewStateValues;
    const block = (key: keyof typeof APPOINTMENT_FORM_BLOCKS) =>
      findBlock(values, APPOINTMENT_FORM_BLOCKS[key]);
    const read = (key: keyof typeof APPOINTMENT_FORM_BLOCKS) => readValue(block(key).value);
    const rep = await deps.reps.bySlackUser(body.user.id);
    if (!rep) {
      await ack({ response_action: 'errors', errors: { [block('service').blockId]: NOT_A_REP } });
      return;
    }
    const meta = (() => {
      try {
        return metadata.parse(JSON.parse(view.private_metadata || '{}'));
      } catch {
        return {};
      }
    })();
    const date = read('date');
    const time = read('time');
    const attendee = {
      name: read('attendeeName') ?? '',
      email: read('attendeeEmail') ?? '',
      time_zone: read('attendeeTimeZone') ?? rep.timeZone,
    };
    const common = {
      service_id: read('service') ?? '',
      attendee,
      // The pickers are in the rep's zone.
      start: `${date}T${time}`,
      time_zone: rep.timeZone,
      location: read('location') ?? null,
    };
    const actor = { id: `slack:${body.user.id}` };
    try {
      if (!date || !time) throw AppError.validation([{ field: 'start', message: 'pick a date and a time' }]);
      if (meta.appointmentId) {
        const current = await deps.appointments.get(meta.appointmentId);
        if (current.rep_id !== rep.id) {
          await ack({
            response_action: 'errors',
            errors: { [block('service').blockId]: 'That appointment belongs to another rep.' },
          });
          return;
        }
        await deps.appointments.updateFromInput(meta.appointmentId, common, actor);
      } else {
        const notes = read('notes');
        await deps.appointments.createFromInput(
          { ...common, rep_id: rep.id },
          actor,
          notes ? [{ title: 'Notes', body: notes }] : [],
        );
      }
    } catch (error) {
      if (!isAppError(error) || !['validation_failed', 'conflict'].includes(error.code)) throw error;
      const errors: Record<string, string> = {};
      for (const problem of error.fields.length
        ? error.fields
        : [{ field: 'start', message: error.message }]) {
        const key = FIELD_BLOCKS.find(([pattern]) => pattern.test(problem.field))?.[1] ?? 'time';
        const id = block(key).blockId;
        // The API's hint (allow_overlap) means nothing in the modal.
        const message = problem.message.replace(/; send allow_overlap: true to book anyway$/, '');
        errors[id] = errors[id] ?? message.slice(0, 300);
      }
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
  });
}
