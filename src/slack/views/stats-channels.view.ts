import type { App } from '@slack/bolt';
import { CALLBACKS, STATS_CHANNEL_FORM_BLOCKS } from '../../../blocks/ids.ts';
import { type StatsChannelView, statsChannelsView } from '../../../blocks/stats.ts';
import { isAppError } from '../../errors.ts';
import type { StatsChannelRow } from '../../stats/stats.repository.ts';
import { createStatsChannelSchema } from '../../stats/stats.schemas.ts';
import { NOT_ALLOWED_SETTINGS, type SlackDeps } from '../deps.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

export function statsChannelViews(rows: StatsChannelRow[]): StatsChannelView[] {
  return rows.map((r) => ({
    id: r.id,
    channelId: r.channel_id,
    postTime: r.post_time,
    timeZone: r.time_zone,
    sections: r.sections,
    status: r.status,
    brokenReason: r.broken_reason,
  }));
}

/** API field -> the modal block that shows its error. */
const FIELD_BLOCKS: Record<string, string> = {
  channel_id: STATS_CHANNEL_FORM_BLOCKS.channel,
  time: STATS_CHANNEL_FORM_BLOCKS.time,
  time_zone: STATS_CHANNEL_FORM_BLOCKS.timeZone,
  sections: STATS_CHANNEL_FORM_BLOCKS.sections,
};

/**
 * "Add channel" in the stats channels modal: validated by the API's schema (errors on their
 * field), the channel checked like the settings modal's, then the modal shows the new list. With no
 * channel picked, the modal just closes (back to /briefly settings).
 */
export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.statsChannels, async ({ ack, body, view }) => {
    const stats = deps.stats;
    const values = view.state.values as ViewStateValues;
    if (!stats) {
      await ack();
      return;
    }
    if (!(await deps.reps.isAdmin(body.user.id))) {
      await ack({
        response_action: 'errors',
        errors: { [STATS_CHANNEL_FORM_BLOCKS.channel]: NOT_ALLOWED_SETTINGS },
      });
      return;
    }
    const channel = readValue(findBlock(values, STATS_CHANNEL_FORM_BLOCKS.channel).value);
    if (!channel) {
      await ack();
      return;
    }
    const sectionsState = values[findBlock(values, STATS_CHANNEL_FORM_BLOCKS.sections).blockId];
    const selected = sectionsState
      ? ((Object.values(sectionsState)[0] as { selected_options?: { value: string }[] } | undefined)
          ?.selected_options ?? [])
      : [];
    const parsed = createStatsChannelSchema.safeParse({
      channel_id: channel,
      time: readValue(findBlock(values, STATS_CHANNEL_FORM_BLOCKS.time).value) ?? '09:00',
      time_zone: readValue(findBlock(values, STATS_CHANNEL_FORM_BLOCKS.timeZone).value) ?? '',
      sections: selected.map((o) => o.value),
    });
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const block =
          FIELD_BLOCKS[String(issue.path[0] ?? 'channel_id')] ?? STATS_CHANNEL_FORM_BLOCKS.channel;
        errors[findBlock(values, block).blockId] ??= issue.message;
      }
      await ack({ response_action: 'errors', errors });
      return;
    }
    try {
      await stats.saveChannel(parsed.data, { id: `slack:${body.user.id}` });
    } catch (error) {
      if (!isAppError(error) || error.fields.length === 0) throw error;
      const errors: Record<string, string> = {};
      for (const field of error.fields) {
        const block = FIELD_BLOCKS[field.field] ?? STATS_CHANNEL_FORM_BLOCKS.channel;
        errors[findBlock(values, block).blockId] ??= field.message;
      }
      await ack({ response_action: 'errors', errors });
      return;
    }
    const [channels, rep] = await Promise.all([stats.listChannels(), deps.reps.bySlackUser(body.user.id)]);
    await ack({
      response_action: 'update',
      view: statsChannelsView(statsChannelViews(channels), { timeZone: rep?.timeZone ?? 'UTC' }),
    });
  });
}
