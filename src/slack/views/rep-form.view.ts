import type { App } from '@slack/bolt';
import { z } from 'zod';
import { CALLBACKS, REP_FORM_BLOCKS } from '../../../blocks/ids.ts';
import { isAppError } from '../../errors.ts';
import { NOT_ALLOWED_REPS, type SlackDeps } from '../deps.ts';
import { fetchSlackProfile } from '../slack-profile.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

export const repFormMetadata = z
  .object({ repId: z.uuid().optional(), channelId: z.string().optional() })
  .catch({});

export type RepFormMetadata = z.infer<typeof repFormMetadata>;

export function parseRepFormMetadata(raw: string | undefined): RepFormMetadata {
  try {
    return repFormMetadata.parse(JSON.parse(raw || '{}'));
  } catch {
    return {};
  }
}

const FIELD_BLOCKS: Record<string, string> = {
  slack_user_id: REP_FORM_BLOCKS.user,
  email: REP_FORM_BLOCKS.email,
  time_zone: REP_FORM_BLOCKS.timeZone,
  briefing_time: REP_FORM_BLOCKS.briefingTime,
  calendar_source: REP_FORM_BLOCKS.calendarSource,
  role: REP_FORM_BLOCKS.role,
  name: REP_FORM_BLOCKS.user,
};

const FIELD_LABELS: Record<string, string> = {
  slack_user_id: 'Slack user',
  email: 'Work email',
  time_zone: 'Time zone',
  briefing_time: 'Briefing time',
  calendar_source: 'Calendar source',
  role: 'Role',
  name: 'Name',
};

export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.repForm, async ({ ack, body, view, client }) => {
    const values = view.state.values as ViewStateValues;
    const blocks = Object.fromEntries(
      Object.entries(REP_FORM_BLOCKS).map(([key, prefix]) => [key, findBlock(values, prefix)]),
    ) as Record<keyof typeof REP_FORM_BLOCKS, ReturnType<typeof findBlock>>;
    const realBlockId = (field: string) => {
      const prefix = FIELD_BLOCKS[field] ?? REP_FORM_BLOCKS.user;
      const entry = Object.values(blocks).find(
        (b) => b.blockId === prefix || b.blockId.startsWith(`${prefix}:`),
      );
      return entry?.blockId ?? prefix;
    };
    if (!(await deps.reps.canManageReps(body.user.id))) {
      await ack({ response_action: 'errors', errors: { [realBlockId('slack_user_id')]: NOT_ALLOWED_REPS } });
      return;
    }
    const meta = parseRepFormMetadata(view.private_metadata);
    const slackUserId = readValue(blocks.user.value);
    // The profile names the rep and fills an email or time zone left empty.
    const profile = slackUserId ? await fetchSlackProfile(client, slackUserId) : {};
    const input = {
      slack_user_id: slackUserId ?? null,
      name: profile.name ?? readValue(blocks.email.value)?.split('@')[0] ?? 'Unnamed rep',
      email: readValue(blocks.email.value) ?? profile.email ?? '',
      time_zone: readValue(blocks.timeZone.value) ?? profile.timeZone ?? '',
      briefing_time: readValue(blocks.briefingTime.value) ?? '08:00',
      calendar_source: readValue(blocks.calendarSource.value) ?? 'google',
      role: readValue(blocks.role.value) ?? 'rep',
    };
    if (!slackUserId) {
      await ack({
        response_action: 'errors',
        errors: { [realBlockId('slack_user_id')]: 'Pick the Slack user of this rep' },
      });
      return;
    }
    const actor = { id: `slack:${body.user.id}`, slackUserId: body.user.id };
    try {
      const rep = meta.repId
        ? await deps.reps.update(meta.repId, input, actor)
        : await deps.reps.create(input, actor);
      await ack();
      if (meta.channelId) {
        await client.chat
          .postEphemeral({
            channel: meta.channelId,
            user: body.user.id,
            text: `${meta.repId ? 'Saved' : 'Added'} <@${slackUserId}> (${rep.email}, briefing at ${rep.briefing_time} ${rep.time_zone}).`,
          })
          .catch((error: Error) => deps.logger.warn('confirmation not posted', { error: error.message }));
      }
    } catch (error) {
      if (isAppError(error) && error.fields.length > 0) {
        const errors: Record<string, string> = {};
        for (const problem of error.fields) {
          const field = problem.field.split('.')[0] ?? '';
          const blockId = realBlockId(field);
          errors[blockId] ??= `${FIELD_LABELS[field] ?? field} ${problem.message}`;
        }
        await ack({ response_action: 'errors', errors });
        return;
      }
      if (isAppError(error) && error.code === 'not_found') {
        await ack({
          response_action: 'errors',
          errors: { [realBlockId('slack_user_id')]: 'This rep was removed meanwhile' },
        });
        return;
      }
      throw error;
    }
  });
}
