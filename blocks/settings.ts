import type { InputBlock, ModalView } from '@slack/types';
import {
  type ChannelSettings,
  SETTING_KEYS,
  SETTINGS,
  USER_LIST_KEYS,
  USER_LIST_SETTINGS,
  type UserListKey,
} from '../src/settings/settings.repository.ts';
import { plain } from './common.ts';
import { CALLBACKS, INPUT_ACTION, SETTINGS_FORM_BLOCKS } from './ids.ts';
import { statsSettingsEntry } from './stats.ts';

export function settingsView(
  channels: ChannelSettings,
  users: Partial<Record<UserListKey, string[]>> = {},
): ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACKS.settingsForm,
    title: plain('Briefly settings', 24),
    submit: plain('Save', 24),
    close: plain('Cancel', 24),
    blocks: [
      ...SETTING_KEYS.map(
        (key): InputBlock => ({
          type: 'input',
          block_id: SETTINGS_FORM_BLOCKS[key],
          optional: true,
          label: plain(SETTINGS[key].label, 2000),
          hint: plain(
            `Where Briefly posts ${SETTINGS[key].purpose}. Briefly joins a public channel itself; invite it to a private one first (/invite @Briefly).${SETTINGS[key].whenUnset === 'admins' ? ' Left empty, admins get these by direct message.' : ''}`,
            2000,
          ),
          element: {
            type: 'conversations_select',
            action_id: INPUT_ACTION,
            filter: { include: ['public', 'private'], exclude_bot_users: true },
            ...(channels[key] ? { initial_conversation: channels[key] } : {}),
          },
        }),
      ),
      ...USER_LIST_KEYS.map(
        (key): InputBlock => ({
          type: 'input',
          block_id: SETTINGS_FORM_BLOCKS[key],
          optional: true,
          label: plain(USER_LIST_SETTINGS[key].label, 2000),
          hint: plain(
            `Who may ${USER_LIST_SETTINGS[key].purpose} (reps with the manager or admin role may too). Nobody approves their own mailout; with no manager at all, mailouts are scheduled without approval.`,
            2000,
          ),
          element: {
            type: 'multi_users_select',
            action_id: INPUT_ACTION,
            max_selected_items: 100,
            ...(users[key]?.length ? { initial_users: users[key] } : {}),
          },
        }),
      ),
      // Daily stats channels have their own modal (pushed from here): src/slack/actions/stats.actions.ts.
      ...statsSettingsEntry(),
    ],
  };
}
