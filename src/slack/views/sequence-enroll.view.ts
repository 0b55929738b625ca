import type { App } from '@slack/bolt';
import { CALLBACKS, SEQUENCE_ENROLL_BLOCKS } from '../../../blocks/ids.ts';
import { enrollResultView } from '../../../blocks/sequences.ts';
import { isAppError } from '../../errors.ts';
import type { SlackDeps } from '../deps.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

const EMAIL = /^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$/;

/** The pasted emails: every token must be an email; the wrong ones are named on the field. */
export function splitEmails(text: string): { emails: string[]; invalid: string[] } {
  const tokens = text
    .split(/[\s,;]+/)
    .map((t) => t.replace(/^<|>$/g, '').trim())
    .filter(Boolean);
  return { emails: tokens.filter((t) => EMAIL.test(t)), invalid: tokens.filter((t) => !EMAIL.test(t)) };
}

export function register(app: App, deps: SlackDeps): void {
  app.view(CALLBACKS.sequenceEnroll, async ({ ack, body, view }) => {
    const sequences = deps.sequences;
    const field = findBlock(view.state.values as ViewStateValues, SEQUENCE_ENROLL_BLOCKS.emails);
    const { emails, invalid } = splitEmails(readValue(field.value) ?? '');
    if (invalid.length || !emails.length) {
      await ack({
        response_action: 'errors',
        errors: {
          [field.blockId]: invalid.length
            ? `Not an email: ${invalid.slice(0, 5).join(', ')}${invalid.length > 5 ? ` and ${invalid.length - 5} more` : ''}`
            : 'Paste at least one email',
        },
      });
      return;
    }
    if (!sequences || !(await deps.reps.canManageReps(body.user.id))) {
      await ack({
        response_action: 'errors',
        errors: { [field.blockId]: 'Only Briefly admins and managers can enrol contacts.' },
      });
      return;
    }
    let sequenceId = '';
    try {
      sequenceId = String(JSON.parse(view.private_metadata).sequenceId ?? '');
    } catch {}
    try {
      const result = await sequences.enrollEmails(sequenceId, emails, `slack:${body.user.id}`);
      await ack({ response_action: 'update', view: enrollResultView(result) });
    } catch (error) {
      if (!isAppError(error) || error.code === 'internal') throw error;
      await ack({ response_action: 'errors', errors: { [field.blockId]: error.message.slice(0, 150) } });
    }
  });
}
