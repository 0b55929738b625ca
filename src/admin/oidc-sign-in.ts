import * as oidc from 'openid-client';
import type { Logger } from '../logging/logger.ts';
import type { RepRow } from '../reps/rep.repository.ts';
import type { AdminConfig } from './admin.config.ts';
import type { AdminUser } from './admin-session.repository.ts';

/** What the browser carries (sealed) between the redirect to the issuer and the callback. */
export interface SignInState {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  /** Epoch milliseconds after which the callback is refused. */
  expiresAt: number;
}

/** A sign-in that did not produce a user; `message` is for the person, `reason` for the log. */
export class SignInError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 502,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}

const SIGN_IN_MINUTES = 10;
const SLACK_TEAM_CLAIM = 'https://slack.com/team_id';
const SLACK_USER_CLAIM = 'https://slack.com/user_id';

export interface OidcSignInDeps {
  config: AdminConfig;
  /** `<PUBLIC_URL>/admin/auth/callback`, registered at the issuer. */
  redirectUri: string;
  /** The installed workspace (auth.test with the bot token) when OIDC_SLACK_TEAM_ID is not set. */
  workspaceTeamId: () => Promise<string | undefined>;
  reps: {
    findBySlackUser(id: string): Promise<RepRow | undefined>;
    findByEmail(email: string): Promise<RepRow | undefined>;
  };
  logger: Logger;
  timeoutMs?: number;
}

/**
 * OpenID Connect sign-in with openid-client: authorization code flow with PKCE (S256), state and
 * nonce, client secret at the token endpoint. openid-client checks the ID token's issuer,
 * audience, expiry and nonce; it is received straight from the token endpoint, which OIDC Core
 * 3.1.3.7 accepts in place of a signature check. Who may sign in is decided here:
 * - Slack: members of the installed workspace (the `https://slack.com/team_id` claim).
 * - any other issuer: people who are reps, found by a verified email.
 */
export class OidcSignIn {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly deps: OidcSignInDeps) {}

  /** Discovery once per process; a failure is not kept, so the next sign-in tries again. */
  private discover(): Promise<oidc.Configuration> {
    const { config } = this.deps;
    this.configuration ??= oidc
      .discovery(new URL(config.issuerUrl), config.clientId ?? '', config.clientSecret, undefined, {
        // Plain http only for a local issuer (development and tests); config refuses it in production.
        execute: config.issuerUrl.startsWith('http://') ? [oidc.allowInsecureRequests] : [],
        timeout: Math.ceil((this.deps.timeoutMs ?? 10_000) / 1000),
      })
      .then((configuration) => {
        configuration.timeout = Math.ceil((this.deps.timeoutMs ?? 10_000) / 1000);
        return configuration;
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw new SignInError(
          'The sign-in provider cannot be reached right now; try again in a minute.',
          502,
          `discovery of ${config.issuerUrl} failed: ${(error as Error).message}`,
        );
      });
    return this.configuration;
  }

  async start(returnTo: string, now: Date): Promise<{ url: URL; state: SignInState }> {
    const configuration = await this.discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.deps.redirectUri,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return {
      url,
      state: { state, nonce, verifier, returnTo, expiresAt: now.getTime() + SIGN_IN_MINUTES * 60_000 },
    };
  }

  /** Exchanges the code of `callbackUrl` and decides who signed in (or throws SignInError). */
  async finish(callbackUrl: URL, state: SignInState, now: Date): Promise<AdminUser> {
    if (state.expiresAt < now.getTime()) {
      throw new SignInError('The sign-in took too long; start again.', 400, 'sign-in state expired');
    }
    const configuration = await this.discover();
    let claims: oidc.IDToken | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: state.verifier,
        expectedState: state.state,
        expectedNonce: state.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (error) {
      const described = describeOidcError(error);
      throw new SignInError(
        described.denied
          ? 'Sign-in was cancelled or refused by the provider.'
          : 'Sign-in failed: the answer from the provider could not be verified. Start again.',
        described.denied ? 403 : 400,
        described.reason,
      );
    }
    if (!claims) throw new SignInError('Sign-in failed: no ID token.', 400, 'no id_token');
    return this.deps.config.provider === 'slack' ? this.slackUser(claims) : this.repUser(claims);
  }

  private async slackUser(claims: oidc.IDToken): Promise<AdminUser> {
    const team = stringClaim(claims, SLACK_TEAM_CLAIM);
    const workspace = this.deps.config.slackTeamId ?? (await this.deps.workspaceTeamId());
    if (!workspace) {
      throw new SignInError(
        'Briefly cannot tell which Slack workspace it is installed in; try again in a minute.',
        502,
        'workspace team id unknown (auth.test failed and OIDC_SLACK_TEAM_ID is not set)',
      );
    }
    if (team !== workspace) {
      throw new SignInError(
        'Only members of the Slack workspace Briefly is installed in may sign in. Sign in to that workspace and try again.',
        403,
        `team ${team ?? '(none)'} is not the workspace ${workspace}`,
      );
    }
    const slackUserId = stringClaim(claims, SLACK_USER_CLAIM) ?? claims.sub;
    const rep = await this.deps.reps.findBySlackUser(slackUserId);
    return {
      issuer: claims.iss,
      subject: claims.sub,
      slackUserId,
      teamId: team,
      actor: slackUserId,
      name: stringClaim(claims, 'name') ?? rep?.name ?? slackUserId,
      email: stringClaim(claims, 'email') ?? rep?.email ?? null,
      timeZone: rep?.timeZone ?? 'UTC',
    };
  }

  private async repUser(claims: oidc.IDToken): Promise<AdminUser> {
    const email = stringClaim(claims, 'email');
    if (!email || claims.email_verified !== true) {
      throw new SignInError(
        'Your sign-in provider did not confirm your email address; Briefly admits people by their verified email.',
        403,
        'no verified email claim',
      );
    }
    const rep = await this.deps.reps.findByEmail(email);
    if (!rep) {
      throw new SignInError(
        `${email} is not a rep in Briefly; ask an admin to add you (in Slack: /reps add).`,
        403,
        'email of no rep',
      );
    }
    return {
      issuer: claims.iss,
      subject: claims.sub,
      slackUserId: rep.slackUserId,
      teamId: null,
      actor: rep.slackUserId ?? rep.id,
      name: stringClaim(claims, 'name') ?? rep.name,
      email,
      timeZone: rep.timeZone,
    };
  }
}

function stringClaim(claims: oidc.IDToken, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function describeOidcError(error: unknown): { denied: boolean; reason: string } {
  if (error instanceof oidc.AuthorizationResponseError) {
    return { denied: true, reason: `authorization error: ${error.error}` };
  }
  if (error instanceof oidc.ResponseBodyError) {
    return { denied: false, reason: `token endpoint error: ${error.error} (${error.status})` };
  }
  const e = error as { code?: string; message?: string };
  return { denied: false, reason: `${e.code ?? 'error'}: ${e.message ?? String(error)}` };
}
