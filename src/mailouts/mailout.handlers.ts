import { sendApiTokenAlert } from '../../blocks/mailouts.ts';
import type { AlertService } from '../alerts/alert.service.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Clock } from '../shared/time.ts';
import type { MailoutEngine } from './mailout-engine.ts';
import { jwtExpiry } from './providers/fabrique.sms-gateway.ts';

/** Jobs of the `mailouts` queue (its own queue and concurrency: a dead send API slows nothing else). */
export function mailoutJobHandlers(deps: {
  engine: MailoutEngine;
  alerts: AlertService;
  clock: Clock;
  token?: string;
  tokenWarnDays: number;
}): JobHandlers {
  const { engine } = deps;
  return {
    mailouts: {
      start: async (job) => engine.start(Number(job.data.mailoutId)),
      send: async (job) =>
        engine.send(Number(job.data.mailoutId), String(job.data.zone), Number(job.data.slot ?? 0)),
      end: async (job) => engine.end(Number(job.data.mailoutId)),
      tick: async () => engine.tick(),
      'send-api-token-check': async (_job, logger) => {
        const expiresAt = deps.token ? jwtExpiry(deps.token) : undefined;
        if (!expiresAt) return { checked: false };
        const days = Math.floor((expiresAt.getTime() - deps.clock.now().getTime()) / 86_400_000);
        if (days > deps.tokenWarnDays) return { checked: true, days };
        logger.warn('SEND_API_TOKEN expires soon', { expires_at: expiresAt.toISOString(), days });
        await deps.alerts.post('send-api-token', sendApiTokenAlert({ expiresAt, days }));
        return { checked: true, days, alerted: true };
      },
    },
  };
}
