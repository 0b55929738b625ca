import type { App } from '@slack/bolt';
import {
  CALLBACKS,
  SEQUENCE_FORM_BLOCKS,
  SEQUENCE_FORM_MAX_STEPS,
  sequenceStepBlock,
} from '../../../blocks/ids.ts';
import { isAppError } from '../../errors.ts';
import type { SlackDeps } from '../deps.ts';
import type { ViewStateValue, ViewStateValues } from '../view-state.ts';

type Values = Record<string, Record<string, ViewStateValue & { selected_options?: { value?: string }[] }>>;

const text = (values: Values, block: string) => {
  const v = values[block] ? Object.values(values[block] ?? {})[0] : undefined;
  return (v?.value ?? '').trim();
};
const selected = (values: Values, block: string) => {
  const v = values[block] ? Object.values(values[block] ?? {})[0] : undefined;
  return (v?.selected_options ?? []).map((o) => o.value ?? '');
};

/** The modal's values as the API's sequence fields (validation is the API's, field by field). */
export function readSequenceForm(values: Values) {
  const steps: { delay_days: unknown; subject: string; body: string }[] = [];
  for (let n = 1; n <= SEQUENCE_FORM_MAX_STEPS; n++) {
    const subject = text(values, sequenceStepBlock(n, 'subject'));
    const body = text(values, sequenceStepBlock(n, 'body'));
    const delay = n === 1 ? '0' : text(values, sequenceStepBlock(n, 'delay'));
    if (n > 1 && !subject && !body && !delay) continue;
    steps.push({ delay_days: /^\d+$/.test(delay) ? Number(delay) : delay || 0, subject, body });
  }
  return {
    name: text(values, SEQUENCE_FORM_BLOCKS.name),
    window: {
      from: text(values, SEQUENCE_FORM_BLOCKS.windowFrom),
      to: text(values, SEQUENCE_FORM_BLOCKS.windowTo),
    },
    time_zone: text(values, SEQUENCE_FORM_BLOCKS.timeZone),
    days: selected(values, SEQUENCE_FORM_BLOCKS.days).map(Number),
    mailbox_ids: selected(values, SEQUENCE_FORM_BLOCKS.mailboxes),
    steps,
  };
}

/** An API field path (steps.1.subject) to the modal block that holds it. */
export function blockForField(field: string, stepNumbers: number[]): string {
  const step = /^steps\.(\d+)\.(delay_days|subject|body)/.exec(field);
  if (step) {
    const n = stepNumbers[Number(step[1])] ?? Number(step[1]) + 1;
    return sequenceStepBlock(n, step[2] === 'delay_days' ? 'delay' : (step[2] as 'subject' | 'body'));
  }
  if (field.startsWith('window.from')) return SEQUENCE_FORM_BLOCKS.windowFrom;
  if (field.startsWith('window')) return SEQUENCE_FORM_BLOCKS.windowTo;
  if (field.startsWith('days')) return SEQUENCE_FORM_BLOCKS.days;
  if (field.startsWith('mailbox_ids')) return SEQUENCE_FORM_BLOCKS.mailboxes;
  if (field.startsWith('time_zone')) return SEQUENCE_FORM_BLOCKS.timeZone;
  if (field.startsWith('steps')) return sequenceStepBlock(1, 'subject');
  return SEQUENCE_FORM_BLOCKS.name;
}

export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.sequenceForm, async ({ ack, body, view }) => {
    const sequences = deps.sequences;
    if (!sequences || !(await deps.reps.canManageReps(body.user.id))) {
      await ack({
        response_action: 'errors',
        errors: {
          [SEQUENCE_FORM_BLOCKS.name]: 'Only Briefly admins and managers can create or edit sequences.',
        },
      });
      return;
    }
    const values = view.state.values as ViewStateValues as Values;
    const input = readSequenceForm(values);
    const stepNumbers: number[] = [];
    for (let n = 1; n <= SEQUENCE_FORM_MAX_STEPS; n++) {
      if (
        n === 1 ||
        text(values, sequenceStepBlock(n, 'subject')) ||
        text(values, sequenceStepBlock(n, 'body')) ||
        text(values, sequenceStepBlock(n, 'delay'))
      )
        stepNumbers.push(n);
    }
    let sequenceId: string | null = null;
    try {
      sequenceId = JSON.parse(view.private_metadata).sequenceId ?? null;
    } catch {}
    try {
      // Whoever creates a sequence in Slack owns it: replies to it are DMed to them.
      await sequences.save(
        sequenceId ? input : { ...input, owner_slack_user_id: body.user.id },
        sequenceId,
        `slack:${body.user.id}`,
      );
      await ack({ response_action: 'clear' });
    } catch (error) {
      if (!isAppError(error) || error.code !== 'validation_failed') throw error;
      const errors: Record<string, string> = {};
      for (const f of error.fields) {
        const block = blockForField(f.field, stepNumbers);
        errors[block] ??= f.message.slice(0, 150);
      }
      await ack({ response_action: 'errors', errors });
    }
  });
}
