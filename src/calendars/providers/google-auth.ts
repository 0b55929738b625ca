import { createHash } from 'node:crypto';
import { type AuthClient, JWT, OAuth2Client } from 'google-auth-library';
import { AppError } from '../../errors.ts';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';
import { CredentialError, vendorUnavailable } from '../calendar-provider.ts';

export const GOOGLE_CALENDAR_SCOPE = 'https://www.googleapis.com/auth/calendar.readonly';
/** Where gtoken (the JWT client's token request) always posts; GOOGLE_TOKEN_URL may differ. */
const GOOGLE_DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Clients kept for their cached access tokens; the oldest is dropped past this. */
const MAX_CLIENTS = 2_000;

export interface GoogleAuthOptions {
  /** GOOGLE_TOKEN_URL. */
  tokenUrl: string;
  /** GOOGLE_AUTH_BASE_URL (consent page host). */
  authBaseUrl?: string;
  serviceAccount?: { client_email: string; private_key: string };
  oauthClient?: { clientId: string; clientSecret: string };
  timeoutMs: number;
}

/** What a rejected gaxios request looks like (gaxios is google-auth-library's HTTP client). */
interface GaxiosLikeError {
  message?: string;
  code?: unknown;
  name?: string;
  /** gaxios keeps the fetch failure (AbortError on our timeout) as `cause` and `error`. */
  cause?: { name?: string };
  error?: { name?: string };
  response?: { status?: number; data?: unknown; headers?: unknown };
}

/**
 * Google access tokens through google-auth-library: `JWT` (service account, domain-wide
 * delegation with `subject` = the rep) and `OAuth2Client` (a rep's own refresh token). The
 * library caches each client's token until shortly before it expires; clients are kept per grant.
 * Two adjustments, both on the client's gaxios transporter: gtoken posts to Google's fixed token
 * URL, so a request interceptor sends it to GOOGLE_TOKEN_URL instead (proxies, private endpoints,
 * tests), and gaxios' own retries are turned off, because the job queue retries with backoff per
 * rep and honours Retry-After.
 */
export class GoogleAuth {
  private readonly clients = new Map<string, AuthClient>();

  constructor(private readonly options: GoogleAuthOptions) {}

  /** An access token for the service account impersonating `subject`. */
  async serviceAccountToken(subject: string): Promise<string> {
    const account = this.options.serviceAccount;
    if (!account) {
      throw new AppError(
        'internal',
        'Google service account connection but no service account is configured',
        {
          retryable: false,
        },
      );
    }
    const key = grantKey('service-account', account.client_email, subject);
    const client = this.client(
      key,
      () =>
        new JWT({
          email: account.client_email,
          key: account.private_key,
          scopes: [GOOGLE_CALENDAR_SCOPE],
          subject,
          transporterOptions: { timeout: this.options.timeoutMs },
        }),
    );
    return this.token(client);
  }

  /** An access token from a rep's refresh token. */
  async refreshTokenToken(refreshToken: string): Promise<string> {
    const key = grantKey('oauth', this.oauthClient().clientId, refreshToken);
    const client = this.client(key, () => {
      const oauth = this.newOAuthClient();
      oauth.setCredentials({ refresh_token: refreshToken });
      return oauth;
    });
    return this.token(client);
  }

  /** Forgets the client of a grant whose token an API refused, so the next call asks afresh. */
  forgetServiceAccount(subject: string): void {
    if (this.options.serviceAccount)
      this.clients.delete(grantKey('service-account', this.options.serviceAccount.client_email, subject));
  }

  forgetRefreshToken(refreshToken: string): void {
    if (this.options.oauthClient)
      this.clients.delete(grantKey('oauth', this.options.oauthClient.clientId, refreshToken));
  }

  /**
   * The consent URL for a rep connecting their own calendar. `access_type=offline` asks for a
   * refresh token and `prompt=consent` makes Google issue one again when the rep reconnects
   * (without it a second consent returns only an access token).
   */
  authUrl(redirectUri: string, state: string): string {
    return this.newOAuthClient(redirectUri).generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      include_granted_scopes: true,
      scope: [GOOGLE_CALENDAR_SCOPE],
      state,
    });
  }

  /** Trades the authorization code from the redirect for the refresh token we store. */
  async exchangeCode(code: string, redirectUri: string): Promise<{ refreshToken: string }> {
    let refreshToken: string | null | undefined;
    try {
      const { tokens } = await this.newOAuthClient(redirectUri).getToken(code);
      if (!tokens.access_token) throw vendorUnavailable('Google sign-in', 'answered without an access token');
      refreshToken = tokens.refresh_token;
    } catch (error) {
      if (error instanceof AppError) throw error;
      const failure = classify(error);
      if (failure.kind === 'unavailable') {
        throw vendorUnavailable('Google sign-in', failure.message, failure.retryAfterSeconds);
      }
      // invalid_grant here means the code expired or was already used: the rep starts over.
      throw new AppError('validation_failed', `Google did not accept the sign-in: ${failure.message}`, {
        fields: [
          { field: 'code', message: (failure.kind === 'rejected' && failure.oauthError) || 'rejected' },
        ],
      });
    }
    if (!refreshToken) {
      throw new AppError(
        'validation_failed',
        'Google granted no refresh token: remove Briefly from your Google account and connect again',
        { fields: [{ field: 'code', message: 'no refresh_token in the answer' }] },
      );
    }
    return { refreshToken };
  }

  private oauthClient(): { clientId: string; clientSecret: string } {
    const client = this.options.oauthClient;
    if (!client) {
      throw new AppError('internal', 'Google OAuth connection but no OAuth client is configured', {
        retryable: false,
      });
    }
    return client;
  }

  private newOAuthClient(redirectUri?: string): OAuth2Client {
    const { clientId, clientSecret } = this.oauthClient();
    const authBase = (this.options.authBaseUrl ?? 'https://accounts.google.com').replace(/\/+$/, '');
    return this.adjust(
      new OAuth2Client({
        clientId,
        clientSecret,
        redirectUri,
        endpoints: {
          oauth2TokenUrl: this.options.tokenUrl,
          oauth2AuthBaseUrl: `${authBase}/o/oauth2/v2/auth`,
        },
        transporterOptions: { timeout: this.options.timeoutMs },
      }),
    );
  }

  private client(key: string, create: () => AuthClient): AuthClient {
    let client = this.clients.get(key);
    if (client) {
      // Map order doubles as recency: re-inserting keeps active grants away from eviction.
      this.clients.delete(key);
    } else {
      client = this.adjust(create());
    }
    this.clients.set(key, client);
    if (this.clients.size > MAX_CLIENTS) {
      const oldest = this.clients.keys().next().value;
      if (oldest !== undefined) this.clients.delete(oldest);
    }
    return client;
  }

  private adjust<T extends AuthClient>(client: T): T {
    const tokenUrl = this.options.tokenUrl;
    client.transporter.interceptors.request.add({
      resolved: async (request) => {
        if (String(request.url) === GOOGLE_DEFAULT_TOKEN_URL && tokenUrl !== GOOGLE_DEFAULT_TOKEN_URL) {
          request.url = new URL(tokenUrl);
        }
        request.retryConfig = { ...request.retryConfig, retry: 0, noResponseRetries: 0 };
        return request;
      },
    });
    return client;
  }

  private async token(client: AuthClient): Promise<string> {
    let token: string | null | undefined;
    try {
      token = (await client.getAccessToken()).token;
    } catch (error) {
      const failure = classify(error);
      if (failure.kind === 'rejected') {
        throw new CredentialError(`Google refused the calendar credentials: ${failure.message}`);
      }
      if (failure.kind === 'signing') {
        throw new AppError('internal', 'Google service account private key cannot sign', {
          retryable: false,
          cause: error,
        });
      }
      throw vendorUnavailable('Google Calendar', failure.message, failure.retryAfterSeconds);
    }
    if (!token) throw vendorUnavailable('Google Calendar', 'token endpoint answered without an access token');
    return token;
  }
}

function grantKey(...parts: string[]): string {
  // A hash, so refresh tokens are not kept as map keys in the clear.
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

type Failure =
  | { kind: 'rejected'; message: string; oauthError?: string }
  | { kind: 'unavailable'; message: string; retryAfterSeconds?: number }
  | { kind: 'signing'; message: string };

/**
 * Sorts a token request failure. Refused grants (RFC 6749 §5.2: invalid_grant, invalid_client,
 * unauthorized_client...) will not work on a retry; throttling, outages, timeouts and garbage
 * might. Messages carry the OAuth error code and Google's short description, never the request.
 */
function classify(caught: unknown): Failure {
  const error = (caught ?? {}) as GaxiosLikeError;
  const status = error.response?.status;
  if (status === undefined) {
    const names = [error.name, error.cause?.name, error.error?.name, String(error.code ?? '')];
    if (names.some((name) => name === 'TimeoutError' || name === 'AbortError' || name === 'ETIMEDOUT')) {
      return { kind: 'unavailable', message: 'token endpoint timed out' };
    }
    if (/no refresh token/i.test(error.message ?? ''))
      return { kind: 'rejected', message: 'no refresh token' };
    // jws/crypto failures: the configured private key cannot sign an assertion.
    if (/private key|PEM|DECODER|asn1|sign/i.test(error.message ?? '') && !error.response) {
      return { kind: 'signing', message: 'private key cannot sign' };
    }
    return { kind: 'unavailable', message: 'token endpoint network error' };
  }
  const body = error.response?.data as { error?: unknown; error_description?: unknown } | undefined;
  const oauthError = typeof body?.error === 'string' ? body.error : undefined;
  const retryAfterSeconds = retryAfter(error.response?.headers);
  if (status === 429 || status >= 500 || oauthError === 'temporarily_unavailable') {
    return { kind: 'unavailable', message: `token endpoint answered ${status}`, retryAfterSeconds };
  }
  if (status >= 200 && status < 300) {
    return { kind: 'unavailable', message: 'token endpoint answered without an access token' };
  }
  const description =
    typeof body?.error_description === 'string'
      ? body.error_description.split(/\r?\n/)[0]?.slice(0, 160)
      : undefined;
  const detail = oauthError ? `${oauthError}${description ? ` (${description})` : ''}` : `HTTP ${status}`;
  return { kind: 'rejected', message: `token endpoint refused the grant: ${detail}`, oauthError };
}

function retryAfter(headers: unknown): number | undefined {
  return rateLimitWaitSeconds(headers as Parameters<typeof rateLimitWaitSeconds>[0]);
}
