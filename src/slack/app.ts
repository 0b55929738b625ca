import { App, LogLevel } from '@slack/bolt';
import type { Config } from '../config/config.ts';
import { describeError, type Logger } from '../logging/logger.ts';
import { register as registerAppointmentActions } from './actions/appointment.actions.ts';
import { register as registerRepActions } from './actions/rep.actions.ts';
import { register as registerSequenceActions } from './actions/sequence.actions.ts';
import { register as registerStatsActions } from './actions/stats.actions.ts';
import { register as registerTestEmailActions } from './actions/test-email.actions.ts';
import { cachedBotAuthorization } from './authorize.ts';
import { boltLogger } from './bolt-logger.ts';
import { register as registerAppointments } from './commands/appointments.command.ts';
import { register as registerBriefing } from './commands/briefing.command.ts';
import { register as registerBriefly } from './commands/briefly.command.ts';
import { register as registerReps } from './commands/reps.command.ts';
import { register as registerSequences } from './commands/sequences.command.ts';
import type { SlackDeps } from './deps.ts';
import { register as registerHome } from './events/app-home-opened.event.ts';
import { FastifyReceiver } from './fastify-receiver.ts';
import { register as registerAppointmentForm } from './views/appointment-form.view.ts';
import { register as registerBriefingSettings } from './views/briefing-settings.view.ts';
import { register as registerRepForm } from './views/rep-form.view.ts';
import { register as registerSequenceEnroll } from './views/sequence-enroll.view.ts';
import { register as registerSequenceForm } from './views/sequence-form.view.ts';
import { register as registerSettingsForm } from './views/settings.view.ts';
import { register as registerStatsChannels } from './views/stats-channels.view.ts';
import { register as registerTestEmail } from './views/test-email.view.ts';

/** Every listener module; each exports register(app, deps). */
const LISTENERS = [
  registerBriefly,
  registerReps,
  registerBriefing,
  registerRepForm,
  registerBriefingSettings,
  registerSettingsForm,
  registerRepActions,
  registerTestEmailActions,
  registerTestEmail,
  registerHome,
  registerAppointments,
  registerAppointmentForm,
  registerAppointmentActions,
  registerSequences,
  registerSequenceActions,
  registerSequenceEnroll,
  registerSequenceForm,
  registerStatsActions,
  registerStatsChannels,
];

export type SlackMode = { kind: 'http'; receiver: FastifyReceiver } | { kind: 'socket' };

export interface SlackApp {
  app: App;
  mode: SlackMode;
}

/** Builds the Bolt app, or returns undefined (and says why) when Slack is not configured. */
export function createSlackApp(
  config: Config,
  deps: SlackDeps,
  logger: Logger,
  /** Features' own listeners (a module's `slackListeners`), registered after the ones above. */
  features: ((app: App, deps: SlackDeps) => void)[] = [],
): SlackApp | undefined {
  const { botToken, signingSecret, appToken, apiUrl } = config.slack;
  if (!botToken || (!signingSecret && !appToken)) return undefined;
  const clientOptions = { slackApiUrl: apiUrl };
  const common = {
    authorize: cachedBotAuthorization(botToken, { ...clientOptions, logger: boltLogger(logger) }),
    logger: boltLogger(logger),
    logLevel: config.log.level === 'debug' ? LogLevel.DEBUG : LogLevel.INFO,
    clientOptions,
  };
  let app: App;
  let mode: SlackMode;
  if (appToken) {
    app = new App({ ...common, appToken, socketMode: true });
    mode = { kind: 'socket' };
  } else {
    const receiver = new FastifyReceiver({ signingSecret: signingSecret as string, logger });
    app = new App({ ...common, receiver });
    mode = { kind: 'http', receiver };
  }
  app.error(async (error) => {
    logger.error('slack handler error', describeError((error as { original?: unknown }).original ?? error));
  });
  for (const register of [...LISTENERS, ...features]) register(app, deps);
  return { app, mode };
}
