import { createHash } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Config } from '../config/config.ts';
import type { CustomerService } from '../customers/customer.service.ts';
import type { Logger } from '../logging/logger.ts';
import type { MailoutService } from '../mailouts/mailout.service.ts';
import type { RepRepository } from '../reps/rep.repository.ts';
import { SecretBox } from '../shared/crypto.ts';
import type { Clock } from '../shared/time.ts';
import { registerAdminRoutes } from './admin.routes.ts';
import { AdminSessionRepository } from './admin-session.repository.ts';
import { OidcSignIn } from './oidc-sign-in.ts';

export interface Admin {
  /** Registers /admin on the web server (the pages, or a plain 404 when sign-in is not configured). */
  register(scope: FastifyInstance): Promise<void>;
}

const OFF_MESSAGE =
  'The admin UI is off: no sign-in is configured. Set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (README, "Admin web UI").';

/** The admin web UI: server-rendered pages behind OpenID Connect sign-in, calling the mailout and customer services. */
export function createAdmin(deps: {
  config: Config;
  pool: pg.Pool;
  mailouts: MailoutService;
  customers: CustomerService;
  reps: RepRepository;
  audit: AuditRepository;
  clock: Clock;
  logger: Logger;
}): Admin {
  const { config } = deps;
  const settings = config.admin;
  if (!settings.enabled || !settings.sessionSecret) {
    // Never open: without sign-in every /admin path is a 404 that says why.
    return {
      async register(scope) {
        await scope.register(async (off) => {
          // Answered before any body is read, whatever its type.
          off.addHook('onRequest', async (_request, reply) =>
            reply.code(404).type('text/plain; charset=utf-8').send(OFF_MESSAGE),
          );
          const never = async () => undefined;
          off.all('/admin', never);
          off.all('/admin/*', never);
        });
      },
    };
  }
  const logger = deps.logger.child({ component: 'admin' });
  const redirectUri = `${config.http.publicUrl}/admin/auth/callback`;
  let team: Promise<string | undefined> | undefined;
  const botToken = config.slack.botToken;
  const workspaceTeamId = () => {
    if (!botToken) return Promise.resolve(undefined);
    team ??= new WebClient(botToken, { slackApiUrl: config.slack.apiUrl, retryConfig: { retries: 1 } }).auth
      .test()
      .then((result) => result.team_id)
      .catch((error: Error) => {
        team = undefined;
        logger.warn('auth.test failed; cannot tell the workspace of Sign in with Slack', {
          error: error.message,
        });
        return undefined;
      });
    return team;
  };
  const signIn = new OidcSignIn({
    config: settings,
    redirectUri,
    workspaceTeamId,
    reps: deps.reps,
    logger,
  });
  const box = new SecretBox(createHash('sha256').update(settings.sessionSecret).digest());
  const sessions = new AdminSessionRepository(deps.pool);
  return {
    async register(scope) {
      await scope.register(
        async (admin) =>
          registerAdminRoutes(admin, {
            signIn,
            sessions,
            box,
            mailouts: deps.mailouts,
            customers: deps.customers,
            providerName: settings.provider === 'slack' ? 'Slack' : new URL(settings.issuerUrl).host,
            secureCookies: config.http.publicUrl.startsWith('https://'),
            sessionHours: settings.sessionHours,
            redirectUri,
            onSignIn: (session) =>
              deps.audit.record({
                actor: session.actor,
                action: 'admin.sign_in',
                subject: 'admin',
                details: { issuer: session.issuer },
              }),
            clock: deps.clock,
            logger,
          }),
        { prefix: '/admin' },
      );
    },
  };
}
