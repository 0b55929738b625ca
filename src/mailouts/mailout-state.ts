import { AppError } from '../errors.ts';
import type { MAILOUT_STATUSES } from './mailout.tables.ts';

export type MailoutStatus = (typeof MAILOUT_STATUSES)[number];

/**
 * The mailout state machine. Every change goes through `assertTransition` and is stored with a
 * guarded UPDATE (`WHERE status = <from>`) plus an audit row, so two actors racing (a manager
 * approving while the author edits) cannot both win. The Slack side (creation modal, approval,
 * progress card) drives the same transitions through MailoutService and listens to its events.
 *
 *   draft -> pending_approval -> scheduled -> running -> finished | expired
 *   pending_approval -> rejected -> (edit) pending_approval
 *   running <-> paused; paused -> expired when ends_at passes
 *   draft | pending_approval | scheduled | running | paused | rejected -> cancelled
 *   With no manager in the workspace, submit goes straight to scheduled (approved on creation).
 *   An edit of text/filter/schedule in pending_approval or scheduled bumps the version and returns
 *   it to pending_approval (or re-approves it automatically without managers).
 */
export const TRANSITIONS: Record<MailoutStatus, readonly MailoutStatus[]> = {
  draft: ['pending_approval', 'scheduled', 'cancelled'],
  pending_approval: ['scheduled', 'rejected', 'pending_approval', 'cancelled', 'expired'],
  scheduled: ['running', 'pending_approval', 'cancelled', 'expired'],
  running: ['paused', 'finished', 'expired', 'cancelled'],
  paused: ['running', 'expired', 'cancelled'],
  rejected: ['pending_approval', 'scheduled', 'cancelled'],
  finished: [],
  expired: [],
  cancelled: [],
};

export const TERMINAL: readonly MailoutStatus[] = ['finished', 'expired', 'cancelled'];
/** Text, filter and schedule may change only before sending starts. */
export const EDITABLE: readonly MailoutStatus[] = ['draft', 'pending_approval', 'scheduled', 'rejected'];
/** While sending, only ends_at and the window may change. */
export const LIVE: readonly MailoutStatus[] = ['running', 'paused'];

export function canTransition(from: MailoutStatus, to: MailoutStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: MailoutStatus, to: MailoutStatus, action: string): void {
  if (!canTransition(from, to)) {
    throw new AppError('conflict', `Cannot ${action} a mailout that is ${from}`);
  }
}
