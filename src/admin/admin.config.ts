import { createHmac } from 'node:crypto';
import { z } from 'zod';

const optional = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

export const SLACK_ISSUER = 'https://slack.com';

/** Environment variables of the admin web UI (merged into the one config schema in config.ts). */
export const ADMIN_ENV = {
  /** The OpenID Connect issuer; Sign in with Slack unless another is named. */
  OIDC_ISSUER_URL: z
    .string()
    .default(SLACK_ISSUER)
    .refine((value) => /^https?:\/\/[^\s]+$/.test(value), {
      message: 'must be a URL starting with https:// (the issuer identifier, e.g. https://slack.com)',
    }),
  /** `slack` checks the workspace claim; `generic` admits people who are reps (by verified email). */
  OIDC_PROVIDER: z.enum(['slack', 'generic', ''], { message: 'must be slack or generic' }).default(''),
  OIDC_CLIENT_ID: optional,
  OIDC_CLIENT_SECRET: optional,
  /** The Slack workspace whose members may sign in; default: the bot token's workspace (auth.test). */
  OIDC_SLACK_TEAM_ID: optional.pipe(
    z
      .string()
      .regex(/^T[A-Z0-9]{2,}$/, 'must be a Slack team id such as T012ABCDEF')
      .optional(),
  ),
  /** Seals the short-lived sign-in state cookie (state, nonce, PKCE verifier). */
  ADMIN_SESSION_SECRET: optional.pipe(
    z.string().min(32, 'must be at least 32 characters (openssl rand -base64 32)').optional(),
  ),
  ADMIN_SESSION_HOURS: z.coerce.number().positive().max(720).default(12),
};

type AdminEnv = { [K in keyof typeof ADMIN_ENV]?: z.output<(typeof ADMIN_ENV)[K]> } & {
  OIDC_ISSUER_URL: string;
  ENCRYPTION_KEY?: string;
  SLACK_BOT_TOKEN?: string;
  NODE_ENV?: string;
};

/** Problems with the admin settings, as [variable, message] pairs (config.ts reports them with the rest). */
export function adminConfigProblems(e: AdminEnv): [string, string][] {
  const problems: [string, string][] = [];
  if (Boolean(e.OIDC_CLIENT_ID) !== Boolean(e.OIDC_CLIENT_SECRET)) {
    problems.push([
      e.OIDC_CLIENT_ID ? 'OIDC_CLIENT_SECRET' : 'OIDC_CLIENT_ID',
      'OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together (both set turns the admin UI on)',
    ]);
  }
  if (e.OIDC_CLIENT_ID && !e.ADMIN_SESSION_SECRET && !e.ENCRYPTION_KEY) {
    problems.push(['ADMIN_SESSION_SECRET', 'is required with OIDC_CLIENT_ID (or set ENCRYPTION_KEY)']);
  }
  if (e.OIDC_CLIENT_ID && provider(e) === 'slack' && !e.OIDC_SLACK_TEAM_ID && !e.SLACK_BOT_TOKEN) {
    problems.push([
      'OIDC_SLACK_TEAM_ID',
      'is required for Sign in with Slack without SLACK_BOT_TOKEN (only members of your workspace may sign in)',
    ]);
  }
  if (e.OIDC_CLIENT_ID && e.NODE_ENV === 'production' && !e.OIDC_ISSUER_URL.startsWith('https://')) {
    problems.push(['OIDC_ISSUER_URL', 'must be https:// in production']);
  }
  return problems;
}

function provider(e: AdminEnv): 'slack' | 'generic' {
  if (e.OIDC_PROVIDER) return e.OIDC_PROVIDER;
  return e.OIDC_ISSUER_URL.replace(/\/+$/, '') === SLACK_ISSUER ? 'slack' : 'generic';
}

export function adminConfig(e: AdminEnv) {
  const enabled = Boolean(e.OIDC_CLIENT_ID && e.OIDC_CLIENT_SECRET);
  return {
    /** Without a client id and secret the UI is off: every /admin path answers 404. */
    enabled,
    issuerUrl: e.OIDC_ISSUER_URL.replace(/\/+$/, ''),
    provider: provider(e),
    clientId: e.OIDC_CLIENT_ID,
    clientSecret: e.OIDC_CLIENT_SECRET,
    slackTeamId: e.OIDC_SLACK_TEAM_ID,
    sessionSecret:
      e.ADMIN_SESSION_SECRET ??
      (e.ENCRYPTION_KEY
        ? createHmac('sha256', e.ENCRYPTION_KEY).update('briefly:admin-session').digest('hex')
        : undefined),
    sessionHours: e.ADMIN_SESSION_HOURS ?? 12,
  };
}

export type AdminConfig = ReturnType<typeof adminConfig>;
