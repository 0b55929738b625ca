import type { KnownBlock, ModalView } from '@slack/types';
import type { SequenceOverview } from '../src/sequences/sequence.service.ts';
import {
  ACTIONS,
  CALLBACKS,
  INPUT_ACTION,
  SEQUENCE_ENROLL_BLOCKS,
  SEQUENCE_FORM_BLOCKS,
  SEQUENCE_FORM_MAX_STEPS,
  sequenceStepBlock,
} from './ids.ts';

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One line per mailbox: today's planned and sent (UTC day). */
function mailboxLines(s: SequenceOverview): string {
  if (!s.mailboxes.length) return '_no mailboxes_';
  return s.mailboxes
    .slice(0, 10)
    .map(
      (m) =>
        `• ${esc(m.email)}${m.status === 'paused' ? ' (paused)' : ''}: ${m.planned} planned, ${m.sent} sent today`,
    )
    .join('\n');
}

/** `/sequences`: each sequence with its numbers and Pause/Resume (managers and admins). */
export function sequencesListMessage(list: SequenceOverview[], canManage: boolean) {
  if (!list.length)
    return {
      text: 'No sequences yet.',
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: 'No sequences yet. Create one with `POST /v1/sequences` (see README, "Sequences").',
          },
        },
      ],
    };
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: 'Sequences' } }];
  if (canManage)
    blocks.push({
      type: 'actions',
      block_id: 'sequences_new',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.sequenceNew,
          text: { type: 'plain_text', text: 'New sequence' },
          value: 'new',
        },
      ],
    });
  for (const s of list) {
    blocks.push({
      type: 'section',
      block_id: `sequence:${s.id}`,
      text: {
        type: 'mrkdwn',
        text: `*${esc(s.name)}* — ${s.status} · ${s.steps} steps · ${s.window} (${s.timeZone})\n${s.active} active · ${s.replied} replied · ${s.bounced} bounced\n${mailboxLines(s)}`.slice(
          0,
          3000,
        ),
      },
    });
    const buttons: unknown[] = [
      {
        type: 'button',
        action_id: ACTIONS.sequenceOpen,
        text: { type: 'plain_text', text: 'Open' },
        value: s.id,
      },
    ];
    if (canManage)
      buttons.push({
        type: 'button',
        action_id: ACTIONS.sequenceEdit,
        text: { type: 'plain_text', text: 'Edit' },
        value: s.id,
      });
    if (canManage)
      buttons.push({
        type: 'button',
        action_id: ACTIONS.sequenceEnrollOpen,
        text: { type: 'plain_text', text: 'Enrol contacts' },
        value: s.id,
      });
    if (canManage && s.status === 'active')
      buttons.push({
        type: 'button',
        action_id: ACTIONS.sequencePause,
        text: { type: 'plain_text', text: 'Pause' },
        value: s.id,
      });
    if (canManage && s.status !== 'active')
      buttons.push({
        type: 'button',
        action_id: ACTIONS.sequenceResume,
        style: 'primary',
        text: { type: 'plain_text', text: s.status === 'draft' ? 'Start' : 'Resume' },
        value: s.id,
      });
    blocks.push({ type: 'actions', block_id: `sequence_actions:${s.id}`, elements: buttons });
  }
  return { text: list.length ? `${list.length} sequences` : 'No sequences yet.', blocks };
}

/** One sequence: its steps and numbers. */
export function sequenceDetailMessage(
  s: SequenceOverview,
  steps: { step: number; delay_days: number; subject: string; body: string }[],
) {
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: s.name.slice(0, 150) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `${s.status} · ${s.window} (${s.timeZone}) · ${s.active} active · ${s.replied} replied · ${s.bounced} bounced\n${mailboxLines(s)}`.slice(
          0,
          3000,
        ),
      },
    },
  ];
  for (const st of steps.slice(0, 20)) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Step ${st.step}* (${st.step === 1 ? 'at once' : `${st.delay_days} days later`}): ${esc(st.subject)}\n>${esc(st.body.slice(0, 300)).replace(/\n/g, '\n>')}`.slice(
          0,
          3000,
        ),
      },
    });
  }
  return { text: `Sequence ${s.name}`, blocks };
}

/** The modal to enrol contacts by pasting their emails. */
export function enrollView(sequence: { id: string; name: string }): ModalView {
  return {
    type: 'modal' as const,
    callback_id: CALLBACKS.sequenceEnroll,
    private_metadata: JSON.stringify({ sequenceId: sequence.id }),
    title: { type: 'plain_text' as const, text: 'Enrol contacts' },
    submit: { type: 'plain_text' as const, text: 'Enrol' },
    close: { type: 'plain_text' as const, text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: SEQUENCE_ENROLL_BLOCKS.emails,
        label: { type: 'plain_text', text: `Emails to enrol in ${sequence.name}`.slice(0, 2000) },
        hint: {
          type: 'plain_text',
          text: 'One per line, or separated by commas or spaces. Contacts must exist already (API: POST /v1/contacts/bulk).',
        },
        element: { type: 'plain_text_input', action_id: INPUT_ACTION, multiline: true, max_length: 3000 },
      },
    ],
  };
}

/** What the enrolment did: enrolled, already enrolled, and the emails that are no contact (listed back). */
export function enrollResultView(result: {
  enrolled: number;
  already: string[];
  unknown: string[];
}): ModalView {
  const list = (emails: string[]) =>
    emails
      .slice(0, 50)
      .map((e) => `• ${esc(e)}`)
      .join('\n') + (emails.length > 50 ? `\n…and ${emails.length - 50} more` : '');
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `:white_check_mark: Enrolled ${result.enrolled}.` } },
  ];
  if (result.already.length)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Already in this sequence (${result.already.length}):*\n${list(result.already)}`.slice(
          0,
          3000,
        ),
      },
    });
  if (result.unknown.length)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Not enrolled: no contact with these emails (${result.unknown.length}):*\n${list(result.unknown)}\nAdd them as contacts first, then enrol them.`.slice(
          0,
          3000,
        ),
      },
    });
  return {
    type: 'modal' as const,
    title: { type: 'plain_text' as const, text: 'Enrol contacts' },
    close: { type: 'plain_text' as const, text: 'Done' },
    blocks,
  };
}

export interface SequenceFormValues {
  id?: string;
  name?: string;
  window?: { from: string; to: string };
  time_zone?: string;
  days?: number[];
  mailbox_ids?: string[];
  steps?: { delay_days: number; subject: string; body: string }[];
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const plainInput = (
  blockId: string,
  label: string,
  initial: string | undefined,
  options: { optional?: boolean; multiline?: boolean; placeholder?: string; max?: number } = {},
): KnownBlock => ({
  type: 'input',
  block_id: blockId,
  optional: options.optional ?? false,
  label: { type: 'plain_text', text: label },
  element: {
    type: 'plain_text_input',
    action_id: INPUT_ACTION,
    multiline: options.multiline ?? false,
    ...(initial ? { initial_value: initial } : {}),
    ...(options.placeholder ? { placeholder: { type: 'plain_text', text: options.placeholder } } : {}),
    ...(options.max ? { max_length: options.max } : {}),
  },
});

/** Create or edit a sequence: name, window, zone, days, mailboxes, up to 5 steps. */
export function sequenceFormView(
  values: SequenceFormValues,
  mailboxes: { id: string; email: string }[],
): ModalView {
  const blocks: KnownBlock[] = [
    plainInput(SEQUENCE_FORM_BLOCKS.name, 'Name', values.name, { max: 200 }),
    plainInput(SEQUENCE_FORM_BLOCKS.windowFrom, 'Sending from (HH:MM)', values.window?.from ?? '09:00'),
    plainInput(SEQUENCE_FORM_BLOCKS.windowTo, 'Sending until (HH:MM)', values.window?.to ?? '17:00'),
    plainInput(SEQUENCE_FORM_BLOCKS.timeZone, 'Time zone (when the contact has none)', values.time_zone, {
      placeholder: 'Europe/Paris',
    }),
    {
      type: 'input',
      block_id: SEQUENCE_FORM_BLOCKS.days,
      label: { type: 'plain_text', text: 'Days' },
      element: {
        type: 'checkboxes',
        action_id: INPUT_ACTION,
        options: WEEKDAYS.map((d, i) => ({ text: { type: 'plain_text', text: d }, value: String(i + 1) })),
        initial_options: (values.days ?? [1, 2, 3, 4, 5]).map((d) => ({
          text: { type: 'plain_text' as const, text: WEEKDAYS[d - 1] ?? String(d) },
          value: String(d),
        })),
      },
    },
  ];
  if (mailboxes.length) {
    const options = mailboxes
      .slice(0, 100)
      .map((m) => ({ text: { type: 'plain_text' as const, text: m.email.slice(0, 75) }, value: m.id }));
    const initial = options.filter((o) => values.mailbox_ids?.includes(o.value));
    blocks.push({
      type: 'input',
      block_id: SEQUENCE_FORM_BLOCKS.mailboxes,
      label: { type: 'plain_text', text: 'Mailboxes' },
      element: {
        type: 'multi_static_select',
        action_id: INPUT_ACTION,
        options,
        ...(initial.length ? { initial_options: initial } : {}),
      },
    });
  }
  for (let n = 1; n <= SEQUENCE_FORM_MAX_STEPS; n++) {
    const step = values.steps?.[n - 1];
    blocks.push({
      type: 'header',
      text: { type: 'plain_text', text: `Step ${n}${n > 1 ? ' (optional)' : ''}` },
    });
    if (n > 1)
      blocks.push(
        plainInput(
          sequenceStepBlock(n, 'delay'),
          'Days after the previous step',
          step ? String(step.delay_days) : undefined,
          {
            optional: true,
            placeholder: '3',
          },
        ),
      );
    blocks.push(
      plainInput(sequenceStepBlock(n, 'subject'), 'Subject', step?.subject, {
        optional: n > 1,
        placeholder:
          n === 1 ? 'Quick question, {{first_name}}' : 'Replies are sent as "Re: <step 1 subject>"',
        max: 998,
      }),
      plainInput(sequenceStepBlock(n, 'body'), 'Body', step?.body, {
        optional: n > 1,
        multiline: true,
        max: 3000,
      }),
    );
  }
  return {
    type: 'modal',
    callback_id: CALLBACKS.sequenceForm,
    private_metadata: JSON.stringify({ sequenceId: values.id ?? null }),
    title: { type: 'plain_text', text: values.id ? 'Edit sequence' : 'New sequence' },
    submit: { type: 'plain_text', text: 'Save' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}
