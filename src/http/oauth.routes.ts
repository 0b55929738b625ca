import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CalendarConnectService } from '../calendars/calendar-connect.service.ts';
import type { SyncRep } from '../calendars/calendar-sync.service.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';

const callbackQuery = z.object({
  code: z.string().min(1).max(2_000).optional(),
  state: z.string().min(1).max(500).optional(),
  error: z.string().max(200).optional(),
});

const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;max-width:36em;margin:4em auto"><h1>${title}</h1><p>${body}</p></body></html>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const VENDORS = {
  google: { name: 'Google Calendar', said: 'Google' },
  microsoft: { name: 'Microsoft 365 calendar', said: 'Microsoft' },
} as const;

/**
 * The OAuth redirects after a rep consented (`/briefing connect google|microsoft`, or a consent
 * link from the API). Authenticated by the signed, expiring `state` (it names the rep and the
 * vendor), not by an API key: a browser lands here.
 */
export function registerOAuthRoutes(
  scope: FastifyInstance,
  deps: {
    connect: CalendarConnectService;
    loadRep: (id: string) => Promise<SyncRep | undefined>;
    logger: Logger;
  },
): void {
  for (const provider of ['google', 'microsoft'] as const) {
    const vendor = VENDORS[provider];
    const again = `Run /briefing connect ${provider} again in Slack.`;
    scope.get(`/oauth/${provider}/callback`, async (request, reply) => {
      reply.type('text/html; charset=utf-8');
      const parsed = callbackQuery.safeParse(request.query);
      const query = parsed.success ? parsed.data : {};
      if (query.error) {
        return reply
          .code(400)
          .send(page('Calendar not connected', `${vendor.said} said: ${escapeHtml(query.error)}. ${again}`));
      }
      if (!query.code || !query.state) {
        return reply
          .code(400)
          .send(page('Calendar not connected', `The link is missing its code or state. ${again}`));
      }
      try {
        const { rep, outcome } =
          provider === 'google'
            ? await deps.connect.completeGoogle(query.code, query.state, deps.loadRep)
            : await deps.connect.completeMicrosoft(query.code, query.state, deps.loadRep);
        const detail =
          outcome.status === 'synced'
            ? `Briefly can read the calendar of ${escapeHtml(rep.email)} now. You can close this tab.`
            : `Connected, but the first sync said: ${escapeHtml(outcome.status === 'broken' ? outcome.reason : outcome.status)}.`;
        return reply.code(200).send(page(`${vendor.name} connected`, detail));
      } catch (error) {
        const known = isAppError(error)
          ? error
          : new AppError('internal', 'unexpected error', { cause: error });
        if (known.code === 'internal')
          deps.logger.error(`${provider} oauth callback failed`, { error: (error as Error).message });
        const status = known.code === 'internal' ? 500 : known.code === 'validation_failed' ? 400 : 502;
        const message =
          known.code === 'internal'
            ? 'Something went wrong on our side; try again.'
            : escapeHtml(known.message);
        return reply.code(status).send(page('Calendar not connected', message));
      }
    });
  }
}
