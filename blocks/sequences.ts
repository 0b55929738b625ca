import type { KnownBlock, ModalView } from '@slack/types';
import type { SequenceOverview } from '../src/sequences/sequence.service.ts';
import { ACTIONS, CALLBACKS, INPUT_ACTION, SEQUENCE_ENROLL_BLOCKS } from './ids.ts';

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
  return { text: `${list.length} sequences`, blocks };
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
