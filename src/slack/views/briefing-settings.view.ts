import type { App } from '@slack/bolt';
import { z } from 'zod';
import { NOT_A_REP, settingsSavedMessage } from '../../../blocks/briefing-settings.ts';
import { BRIEFING_SETTINGS_BLOCKS, BRIEFING_SETTINGS_OPTIONS, CALLBACKS } from '../../../blocks/ids.ts';
import { isAppError } from '../../errors.ts';
import { isValidTimeZone, LOCAL_TIME } from '../../shared/time.ts';
import type { SlackDeps } from '../deps.ts';
import { findBlock, readValue, type ViewStateValue, type ViewStateValues } from '../view-state.ts';

const metadataSchema = z
  .object({
    channelId: z
      .string()
      .regex(/^[CDG][A-Z0-9]+$/)
      .optional(),
  })
  .catch({});

function parseMetadata(raw: string | undefined): z.infer<typeof metadataSchema> {
  try {
    return metadataSchema.parse(JSON.parse(raw || '{}'));
  } catch {
    return {};
  }
}

/** Checkboxes answer `selected_options` (an empty array when none is ticked). */
function selectedOptions(value: ViewStateValue | undefined): Set<string> {
  const options = (value as { selected_options?: { value?: string }[] | null } | undefined)?.selected_options;
  return new Set((options ?? []).map((o) => o.value ?? ''));
}

/** The field names of updateRepSchema, mapped to the block that shows them. */
const FIELD_BLOCKS: Record<string, string> = {
  briefing_time: BRIEFING_SETTINGS_BLOCKS.briefingTime,
  prep_time: BRIEFING_SETTINGS_BLOCKS.prepTime,
  time_zone: BRIEFING_SETTINGS_BLOCKS.timeZone,
  slack_dm: BRIEFING_SETTINGS_BLOCKS.options,
  empty_briefings: BRIEFING_SETTINGS_BLOCKS.options,
};

const FIELD_LABELS: Record<string, string> = {
  briefing_time: 'Delivery time',
  prep_time: 'Preparation time',
  time_zone: 'Time zone',
  slack_dm: 'Slack DM',
  empty_briefings: 'Empty briefings',
};

export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.briefingSettings, async ({ ack, body, view, client }) => {
    const values = view.state.values as ViewStateValues;
    const delivery = findBlock(values, BRIEFING_SETTINGS_BLOCKS.briefingTime);
    const prep = findBlock(values, BRIEFING_SETTINGS_BLOCKS.prepTime);
    const zone = findBlock(values, BRIEFING_SETTINGS_BLOCKS.timeZone);
    const options = findBlock(values, BRIEFING_SETTINGS_BLOCKS.options);

    // The modal only ever edits the submitter's own rep, whatever the view carried.
    const rep = await deps.reps.bySlackUser(body.user.id);
    if (!rep) {
      await ack({ response_action: 'errors', errors: { [zone.blockId]: NOT_A_REP } });
      return;
    }

    const briefingTime = readValue(delivery.value);
    const prepTime = readValue(prep.value);
    const timeZone = readValue(zone.value);
    const errors: Record<string, string> = {};
    if (!briefingTime || !LOCAL_TIME.test(briefingTime)) {
      errors[delivery.blockId] = 'Pick a delivery time (24-hour HH:MM such as 08:00)';
    }
    if (!prepTime || !LOCAL_TIME.test(prepTime)) {
      errors[prep.blockId] = 'Pick a preparation time (24-hour HH:MM such as 05:00)';
    } else if (briefingTime && LOCAL_TIME.test(briefingTime) && prepTime >= briefingTime) {
      errors[prep.blockId] =
        `The preparation time must be before the delivery time (${briefingTime}): Briefly reads your calendar and looks people up first`;
    }
    if (!timeZone) {
      errors[zone.blockId] = 'Enter your time zone, such as Europe/Paris or America/New_York';
    } else if (!isValidTimeZone(timeZone)) {
      errors[zone.blockId] =
        `"${timeZone.slice(0, 60)}" is not a time zone: use an IANA name such as Europe/Paris or America/New_York`;
    }
    if (Object.keys(errors).length > 0 || !briefingTime || !prepTime || !timeZone) {
      await ack({ response_action: 'errors', errors });
      return;
    }

    const selected = selectedOptions(options.value);
    const input = {
      briefing_time: briefingTime,
      prep_time: prepTime,
      time_zone: timeZone,
      slack_dm: selected.has(BRIEFING_SETTINGS_OPTIONS.slackDm),
      empty_briefings: selected.has(BRIEFING_SETTINGS_OPTIONS.emptyBriefings),
    };
    try {
      await deps.reps.update(rep.id, input, { id: `slack:${body.user.id}`, slackUserId: body.user.id });
    } catch (error) {
      if (isAppError(error) && error.fields.length > 0) {
        const fieldErrors: Record<string, string> = {};
        for (const problem of error.fields) {
          const field = problem.field.split('.')[0] ?? '';
          const blockId = FIELD_BLOCKS[field] ?? zone.blockId;
          fieldErrors[blockId] ??= `${FIELD_LABELS[field] ?? field} ${problem.message}`;
        }
        await ack({ response_action: 'errors', errors: fieldErrors });
        return;
      }
      if (isAppError(error) && error.code === 'not_found') {
        await ack({ response_action: 'errors', errors: { [zone.blockId]: NOT_A_REP } });
        return;
      }
      throw error;
    }
    await ack();

    const { channelId } = parseMetadata(view.private_metadata);
    if (!channelId) return;
    await client.chat
      .postEphemeral({
        channel: channelId,
        user: body.user.id,
        ...settingsSavedMessage({
          briefingTime,
          prepTime,
          timeZone,
          slackDm: input.slack_dm,
          emptyBriefings: input.empty_briefings,
        }),
      })
      .catch((error: Error) =>
        deps.logger.warn('briefing settings confirmation not posted', { error: error.message }),
      );
  });
}
