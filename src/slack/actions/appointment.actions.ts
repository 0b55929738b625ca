import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS } from '../../../blocks/ids.ts';
import { isAppError } from '../../errors.ts';
import { NOT_A_REP, openAppointmentForm, upcomingMessage } from '../appointments-slack.ts';
import type { SlackDeps } from '../deps.ts';

const NOT_YOURS = 'That appointment belongs to another rep.';

/** Buttons of the /appointments list: Book, Reschedule (opens the modal) and Cancel. */
export function register(app: App, deps: SlackDeps): void {
  const repAndAppointment = async (userId: string, appointmentId: string | undefined) => {
    const rep = await deps.reps.bySlackUser(userId);
    if (!rep) return { error: NOT_A_REP } as const;
    if (!appointmentId) return { rep } as const;
    try {
      const appointment = await deps.appointments.get(appointmentId);
      if (appointment.rep_id !== rep.id) return { error: NOT_YOURS } as const;
      return { rep, appointment } as const;
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found')
        return { error: 'That appointment no longer exists.' } as const;
      throw error;
    }
  };

  app.action<BlockAction<ButtonAction>>(ACTIONS.appointmentNew, async ({ ack, body, client, respond }) => {
    await ack();
    const found = await repAndAppointment(body.user.id, undefined);
    if ('error' in found) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: found.error });
      return;
    }
    await openAppointmentForm(client, body.trigger_id, deps, found.rep, { channelId: body.channel?.id });
  });

  app.action<BlockAction<ButtonAction>>(
    ACTIONS.appointmentReschedule,
    async ({ ack, action, body, client, respond }) => {
      await ack();
      const found = await repAndAppointment(body.user.id, action.value);
      if ('error' in found) {
        await respond({ replace_original: false, response_type: 'ephemeral', text: found.error });
        return;
      }
      await openAppointmentForm(client, body.trigger_id, deps, found.rep, {
        appointmentId: action.value,
        channelId: body.channel?.id,
      });
    },
  );

  app.action<BlockAction<ButtonAction>>(ACTIONS.appointmentCancel, async ({ ack, action, body, respond }) => {
    await ack();
    const found = await repAndAppointment(body.user.id, action.value);
    if ('error' in found) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: found.error });
      return;
    }
    await deps.appointments.cancel(found.appointment?.id ?? '', 'Cancelled in Slack', {
      id: `slack:${body.user.id}`,
    });
    await respond({ replace_original: true, ...(await upcomingMessage(deps, found.rep)) });
  });
}
