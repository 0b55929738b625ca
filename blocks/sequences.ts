import type { SequenceOverview } from '../src/sequences/sequence.service.ts';
import { ACTIONS } from './ids.ts';

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
