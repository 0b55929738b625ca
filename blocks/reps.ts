import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { RepView } from '../src/reps/rep.schemas.ts';
import { context, escapeMrkdwn, header, plain, section, truncate, userMention } from './common.ts';
import { ACTIONS, CALLBACKS, INPUT_ACTION, REP_FORM_BLOCKS } from './ids.ts';

export const REPS_PAGE_SIZE = 20;

const SOURCE_LABELS = { google: 'Google Calendar', microsoft: 'Microsoft 365', ics: 'ICS feed' } as const;
const ROLE_LABELS = { rep: 'Rep', manager: 'Manager', admin: 'Admin' } as const;

export interface RepsListData {
  reps: RepView[];
  total: number;
  page: number;
  pageSize: number;
  canManage: boolean;
}

export function repLine(rep: RepView): string {
  return [
    `*${escapeMrkdwn(rep.name)}* ${userMention(rep.slack_user_id, '')}`.trim(),
    `${escapeMrkdwn(rep.email)} · ${ROLE_LABELS[rep.role]} · ${SOURCE_LABELS[rep.calendar_source]}`,
    `Briefing ${rep.briefing_time} ${escapeMrkdwn(rep.time_zone)}`,
  ].join('\n');
}

/** The /reps message: one section per rep (Edit + Remove for managers), pager past one page. */
export function repsListMessage(data: RepsListData): { text: string; blocks: KnownBlock[] } {
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  const blocks: KnownBlock[] = [header(`Reps (${data.total})`)];
  if (data.reps.length === 0) {
    blocks.push(
      section(
        data.total === 0
          ? `No reps yet.${data.canManage ? ' Add the first one with `/reps add`.' : ''}`
          : 'This page is empty.',
      ),
    );
  }
  for (const rep of data.reps) {
    const block: KnownBlock = {
      type: 'section',
      block_id: `rep:${rep.id}`,
      text: { type: 'mrkdwn', text: repLine(rep) },
    };
    blocks.push(block);
    if (data.canManage) {
      blocks.push({
        type: 'actions',
        block_id: `rep_actions:${rep.id}`,
        elements: [
          { type: 'button', action_id: ACTIONS.repEdit, text: plain('Edit'), value: rep.id },
          {
            type: 'button',
            action_id: ACTIONS.repRemove,
            text: plain('Remove'),
            style: 'danger',
            value: rep.id,
            confirm: {
              title: plain('Remove this rep?', 100),
              text: {
                type: 'mrkdwn',
                text: truncate(
                  `${escapeMrkdwn(rep.name)} (${escapeMrkdwn(rep.email)}) will stop receiving briefings.`,
                  300,
                ),
              },
              confirm: plain('Remove', 30),
              deny: plain('Cancel', 30),
              style: 'danger',
            },
          },
        ],
      });
    }
  }
  const pager = [];
  if (data.page > 0) {
    pager.push({
      type: 'button' as const,
      action_id: `${ACTIONS.repsPage}:prev`,
      text: plain('◀ Previous'),
      value: String(data.page - 1),
    });
  }
  if (data.page + 1 < pages) {
    pager.push({
      type: 'button' as const,
      action_id: `${ACTIONS.repsPage}:next`,
      text: plain('Next ▶'),
      value: String(data.page + 1),
    });
  }
  if (data.canManage) {
    pager.push({
      type: 'button' as const,
      action_id: ACTIONS.repAdd,
      text: plain('Add rep'),
      style: 'primary' as const,
      value: 'add',
    });
  }
  blocks.push(context(`Page ${data.page + 1} of ${pages}`));
  if (pager.length > 0) blocks.push({ type: 'actions', block_id: 'reps_pager', elements: pager });
  return { text: `Reps (${data.total}), page ${data.page + 1} of ${pages}`, blocks };
}

function option<T extends string>(value: T, label: string): PlainTextOption {
  return { text: plain(label), value };
}

export interface RepFormData {
  mode: 'add' | 'edit';
  privateMetadata: string;
  slackUserId?: string | null;
  email?: string;
  timeZone?: string;
  briefingTime?: string;
  calendarSource?: RepView['calendar_source'];
  role?: RepView['role'];
  /** Appended to the email and time-zone block ids so Slack applies new initial values on update. */
  prefillKey?: string;
}

/** Add/Edit rep modal. Picking a user dispatches an action that prefills email and time zone. */
export function repFormView(data: RepFormData): ModalView {
  const sourceOptions = (Object.keys(SOURCE_LABELS) as (keyof typeof SOURCE_LABELS)[]).map((k) =>
    option(k, SOURCE_LABELS[k]),
  );
  const roleOptions = (Object.keys(ROLE_LABELS) as (keyof typeof ROLE_LABELS)[]).map((k) =>
    option(k, ROLE_LABELS[k]),
  );
  const source = data.calendarSource ?? 'google';
  const role = data.role ?? 'rep';
  return {
    type: 'modal',
    callback_id: CALLBACKS.repForm,
    private_metadata: data.privateMetadata,
    title: plain(data.mode === 'add' ? 'Add rep' : 'Edit rep', 24),
    submit: plain(data.mode === 'add' ? 'Add' : 'Save', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'input',
        block_id: REP_FORM_BLOCKS.user,
        dispatch_action: true,
        label: plain('Slack user', 2000),
        element: {
          type: 'users_select',
          action_id: ACTIONS.repUserPicked,
          ...(data.slackUserId ? { initial_user: data.slackUserId } : {}),
          placeholder: plain('Pick a person'),
        },
      },
      {
        type: 'input',
        block_id: data.prefillKey ? `${REP_FORM_BLOCKS.email}:${data.prefillKey}` : REP_FORM_BLOCKS.email,
        label: plain('Work email', 2000),
        hint: plain('Briefings are sent here and calendars are matched on it.', 2000),
        element: {
          type: 'plain_text_input',
          action_id: INPUT_ACTION,
          ...(data.email ? { initial_value: data.email } : {}),
          placeholder: plain('ana@example.com'),
        },
      },
      {
        type: 'input',
        block_id: data.prefillKey
          ? `${REP_FORM_BLOCKS.timeZone}:${data.prefillKey}`
          : REP_FORM_BLOCKS.timeZone,
        label: plain('Time zone (IANA)', 2000),
        hint: plain("Prefilled from the person's Slack profile, e.g. Europe/Paris.", 2000),
        element: {
          type: 'plain_text_input',
          action_id: INPUT_ACTION,
          ...(data.timeZone ? { initial_value: data.timeZone } : {}),
          placeholder: plain('America/New_York'),
        },
      },
      {
        type: 'input',
        block_id: REP_FORM_BLOCKS.briefingTime,
        label: plain('Briefing time (local)', 2000),
        element: { type: 'timepicker', action_id: INPUT_ACTION, initial_time: data.briefingTime ?? '08:00' },
      },
      {
        type: 'input',
        block_id: REP_FORM_BLOCKS.calendarSource,
        label: plain('Calendar source', 2000),
        element: {
          type: 'static_select',
          action_id: INPUT_ACTION,
          options: sourceOptions,
          initial_option: sourceOptions.find((o) => o.value === source),
        },
      },
      {
        type: 'input',
        block_id: REP_FORM_BLOCKS.role,
        label: plain('Role', 2000),
        element: {
          type: 'static_select',
          action_id: INPUT_ACTION,
          options: roleOptions,
          initial_option: roleOptions.find((o) => o.value === role),
        },
      },
    ],
  };
}
