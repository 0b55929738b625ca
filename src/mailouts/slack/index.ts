import type { App } from '@slack/bolt';
import type { Logger } from '../../logging/logger.ts';
import type { Clock } from '../../shared/time.ts';
import type { SlackDeps } from '../../slack/deps.ts';
import type { MailoutRepository } from '../mailout.repository.ts';
import type { MailoutService } from '../mailout.service.ts';
import { register as registerActions } from './mailout.actions.ts';
import { register as registerCommand } from './mailout.command.ts';
import type { MailoutCards } from './mailout-cards.ts';
import { register as registerForm } from './mailout-form.ts';

/** What the mailout listeners use: the module's own service and cards, never the database. */
export interface MailoutSlackDeps {
  service: MailoutService;
  repo: MailoutRepository;
  cards: MailoutCards;
  clock: Clock;
  logger: Logger;
}

/** Registers /mailouts, the modals and the card buttons (one file per kind of listener). */
export function registerMailoutSlack(app: App, slack: SlackDeps, deps: MailoutSlackDeps): void {
  registerCommand(app, slack, deps);
  registerForm(app, slack, deps);
  registerActions(app, slack, deps);
}
