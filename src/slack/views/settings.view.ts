import type { App } from '@slack/bolt';
import { CALLBACKS, SETTINGS_FORM_BLOCKS } from '../../../blocks/ids.ts';
import {
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  USER_LIST_KEYS,
  type UserListKey,
} from '../../settings/settings.repository.ts';
import { NOT_ALLOWED_SETTINGS, type SlackDeps } from '../deps.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.settingsForm, async ({ ack, body, view }) => {
    const values = view.state.values as ViewStateValues;
    if (!(await deps.reps.isAdmin(body.user.id))) {
      await ack({
        response_action: 'errors',
        errors: { [SETTINGS_FORM_BLOCKS.alert_channel]: NOT_ALLOWED_SETTINGS },
      });
      return;
    }
    const changes: Partial<Record<SettingKey, string | null>> = {};
    const errors: Record<string, string> = {};
    for (const key of SETTING_KEYS) {
      const { blockId, value } = findBlock(values, SETTINGS_FORM_BLOCKS[key]);
      const raw = readValue(value);
      if (raw === undefined) {
        changes[key] = null;
        continue;
      }
      const parsed = SETTINGS[key].schema.safeParse(raw);
      if (parsed.success) changes[key] = parsed.data;
      else errors[blockId] = `${SETTINGS[key].label} ${parsed.error.issues[0]?.message ?? 'is invalid'}`;
    }
    const users: Partial<Record<UserListKey, string[]>> = {};
    for (const key of USER_LIST_KEYS) {
      const { value } = findBlock(values, SETTINGS_FORM_BLOCKS[key]);
      // An absent block (a modal opened before this setting existed) leaves the setting alone.
      if (value) users[key] = (value as { selected_users?: string[] | null }).selected_users ?? [];
    }
    if (Object.keys(errors).length > 0) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    // Every chosen channel must work before it is saved (the modal's ack carries any problem).
    const chosen = SETTING_KEYS.flatMap((key) => {
      const channel = changes[key];
      return channel ? [{ key, channel }] : [];
    });
    const checks = await Promise.all(chosen.map(({ channel }) => deps.channelCheck(channel)));
    chosen.forEach(({ key }, i) => {
      const result = checks[i];
      if (result && !result.ok) {
        errors[findBlock(values, SETTINGS_FORM_BLOCKS[key]).blockId] = result.message;
      }
    });
    if (Object.keys(errors).length > 0) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    // The change and its audit row commit together, before the modal closes.
    await deps.settings.setChannels(changes, `slack:${body.user.id}`, deps.audit, users);
    await ack();
    // Posts held while a channel was broken (or unset) go out now.
    for (const key of SETTING_KEYS) {
      const released = await deps.slackPosts.releaseHeld(key);
      if (released > 0) deps.logger.info('held Slack posts released', { setting: key, count: released });
    }
  });
}
