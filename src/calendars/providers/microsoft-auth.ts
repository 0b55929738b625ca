import type {
  AuthenticationResult,
  ConfidentialClientApplication,
  Configuration,
  ICachePlugin,
  INetworkModule,
  NetworkRequestOptions,
  NetworkResponse,
} from '@azure/msal-node';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { CredentialError, vendorUnavailable } from '../calendar-provider.ts';

/** App-only: every permission the admin granted the app (Calendars.Read, application). */
export const GRAPH_APP_SCOPES = ['https://graph.microsoft.com/.default'];
/** Delegated: MSAL adds openid, profile and offline_access (the refresh token) itself. */
export const GRAPH_DELEGATED_SCOPES = ['https://graph.microsoft.com/Calendars.Read'];

const VENDOR = 'Microsoft sign-in';

type Msal = typeof import('@azure/msal-node');
let loading: Promise<Msal> | undefined;

/** MSAL loads on first use: many deployments never talk to Microsoft, and every CLI run would pay for it. */
function msal(): Promise<Msal> {
  loading ??= import('@azure/msal-node');
  return loading;
}

export interface MicrosoftAuthOptions {
  /** MICROSOFT_LOGIN_BASE_URL, https://login.microsoftonline.com in production. */
  loginBaseUrl: string;
  /** App-only needs it; delegated falls back to "common" (any work or personal account). */
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  timeoutMs: number;
}

/** What a delegated connection stores (sealed): MSAL's serialized token cache and whose it is. */
export interface DelegatedCredentials {
  msal_cache: string;
  home_account_id: string;
}

const delegatedCredentials = z.object({
  msal_cache: z.string().min(2),
  home_account_id: z.string().min(1),
});

const cacheShape = z.object({ RefreshToken: z.record(z.string(), z.unknown()).optional() }).loose();

/**
 * Microsoft Entra tokens through MSAL (`@azure/msal-node`'s ConfidentialClientApplication):
 * client credentials for app-only access, and for delegated access the auth code flow plus
 * silent refresh. MSAL keeps refresh tokens inside its token cache and never hands them out, so a
 * rep's connection stores that cache (serialized, sealed by the caller) and a cache plugin loads
 * it before each token call and reports it after: when Entra rotates the refresh token the
 * changed cache is handed to `save`, which stores it before the sync goes on.
 * Three adjustments keep it offline-testable and inside our timeouts: the authority's endpoints
 * are given (`authorityMetadata`, `knownAuthorities`: no instance discovery or OpenID metadata
 * fetch, and MICROSOFT_LOGIN_BASE_URL may be a sovereign cloud, a proxy or a fake), and the HTTP
 * client is ours (fetch with CALENDAR_TIMEOUT_MS).
 */
export class MicrosoftAuth {
  private app?: ConfidentialClientApplication;

  constructor(private readonly options: MicrosoftAuthOptions) {}

  /** App-only token (MSAL caches it in the shared app instance until shortly before expiry). */
  async appToken(): Promise<string> {
    const { tenantId } = this.options;
    if (!tenantId) throw notConfigured('app-only access needs MICROSOFT_TENANT_ID');
    this.app ??= await this.client(tenantId);
    const app = this.app;
    const result = await this.call(() =>
      app.acquireTokenByClientCredential({
        scopes: GRAPH_APP_SCOPES,
      }),
    );
    if (!result) throw vendorUnavailable(VENDOR, 'no app token issued');
    return result.accessToken;
  }

  /** Forgets the cached app token, so the next call asks Entra again (after Graph said 401). */
  resetAppToken(): void {
    this.app = undefined;
  }

  /**
   * A delegated access token for a rep's stored credentials. `forceRefresh` skips a cached
   * access token (after Graph refused it). A changed cache (new access token, rotated refresh
   * token) is saved before this answers.
   */
  async delegatedToken(
    credentials: Record<string, string>,
    save: (credentials: Record<string, string>) => Promise<void>,
    forceRefresh = false,
  ): Promise<string> {
    const stored = delegatedCredentials.safeParse(credentials);
    const legacyRefreshToken = credentials.refresh_token;
    if (!stored.success && !legacyRefreshToken) {
      throw new CredentialError('Microsoft connection has no token cache or refresh token stored');
    }
    const cache = new CacheSlot(stored.success ? stored.data.msal_cache : '');
    const app = await this.client(this.delegatedTenant(), cache.plugin());
    let result: AuthenticationResult;
    if (stored.success) {
      const account = await this.call(() =>
        app.getTokenCache().getAccountByHomeId(stored.data.home_account_id),
      );
      if (!account)
        throw new CredentialError('Microsoft connection: the stored token cache holds no account');
      result = await this.call(() =>
        app.acquireTokenSilent({ account, scopes: GRAPH_DELEGATED_SCOPES, forceRefresh }),
      );
    } else {
      // A connection stored as a bare refresh token: redeemed once, then kept as an MSAL cache.
      const redeemed = await this.call(() =>
        app.acquireTokenByRefreshToken({
          refreshToken: legacyRefreshToken as string,
          scopes: GRAPH_DELEGATED_SCOPES,
        }),
      );
      if (!redeemed) throw new CredentialError('Microsoft refused the calendar credentials: no token issued');
      result = redeemed;
    }
    if (cache.changed && result.account) {
      await save({ msal_cache: cache.value, home_account_id: result.account.homeAccountId });
    }
    return result.accessToken;
  }

  /** The consent URL for a rep connecting their own Microsoft 365 calendar. */
  async authUrl(redirectUri: string, state: string): Promise<string> {
    const app = await this.client(this.delegatedTenant());
    return this.call(() =>
      app.getAuthCodeUrl({ scopes: GRAPH_DELEGATED_SCOPES, redirectUri, state, prompt: 'select_account' }),
    );
  }

  /** Redeems the code from the redirect; answers the credentials to store and the account's name. */
  async redeemCode(
    code: string,
    redirectUri: string,
  ): Promise<{ credentials: DelegatedCredentials; username: string }> {
    const cache = new CacheSlot('');
    const app = await this.client(this.delegatedTenant(), cache.plugin());
    let result: AuthenticationResult;
    try {
      result = await this.call(() =>
        app.acquireTokenByCode({ code, scopes: GRAPH_DELEGATED_SCOPES, redirectUri }),
      );
    } catch (error) {
      // A code is single-use and short-lived: a refusal means the rep starts over, not a broken link.
      if (error instanceof CredentialError) {
        throw new AppError('validation_failed', `Microsoft did not accept the sign-in: ${error.message}`, {
          fields: [{ field: 'code', message: 'rejected' }],
        });
      }
      throw error;
    }
    const refreshTokens = cacheShape.safeParse(safeJson(cache.value));
    if (
      !result.account ||
      !refreshTokens.success ||
      !Object.keys(refreshTokens.data.RefreshToken ?? {}).length
    ) {
      throw new AppError(
        'validation_failed',
        'Microsoft granted no refresh token (offline access): connect again and accept every permission',
        { fields: [{ field: 'code', message: 'no refresh_token in the answer' }] },
      );
    }
    return {
      credentials: { msal_cache: cache.value, home_account_id: result.account.homeAccountId },
      username: result.account.username,
    };
  }

  private delegatedTenant(): string {
    return this.options.tenantId ?? 'common';
  }

  private async client(tenant: string, cachePlugin?: ICachePlugin): Promise<ConfidentialClientApplication> {
    const library = await msal();
    return new library.ConfidentialClientApplication(this.configuration(library, tenant, cachePlugin));
  }

  private configuration(library: Msal, tenant: string, cachePlugin?: ICachePlugin): Configuration {
    const { clientId, clientSecret } = this.options;
    if (!clientId || !clientSecret)
      throw notConfigured('MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET are not set');
    const base = new URL(this.options.loginBaseUrl);
    const authority = `${base.origin}${base.pathname.replace(/\/+$/, '')}/${encodeURIComponent(tenant)}`;
    return {
      auth: {
        clientId,
        clientSecret,
        authority,
        knownAuthorities: [base.host],
        // What https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration says,
        // built from our base URL so MSAL never fetches it.
        authorityMetadata: JSON.stringify({
          authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
          token_endpoint: `${authority}/oauth2/v2.0/token`,
          end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
          issuer: `${authority}/v2.0`,
          jwks_uri: `${authority}/discovery/v2.0/keys`,
        }),
      },
      ...(cachePlugin ? { cache: { cachePlugin } } : {}),
      system: {
        networkClient: new FetchNetworkClient(library, this.options.timeoutMs),
        // MSAL's own retry waits on its timer; the job queue retries with backoff instead.
        disableInternalRetries: true,
        loggerOptions: {
          logLevel: library.LogLevel.Error,
          piiLoggingEnabled: false,
          loggerCallback: () => undefined,
        },
      },
    };
  }

  /** Runs one MSAL call and turns its errors into ours (never echoing tokens or codes). */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classify(error, await msal());
    }
  }
}

/** One connection's token cache for the duration of one MSAL client. */
class CacheSlot {
  changed = false;

  constructor(public value: string) {}

  plugin(): ICachePlugin {
    return {
      beforeCacheAccess: async (context) => {
        if (this.value) context.tokenCache.deserialize(this.value);
      },
      afterCacheAccess: async (context) => {
        if (!context.cacheHasChanged) return;
        this.value = context.tokenCache.serialize();
        this.changed = true;
      },
    };
  }
}

/** OAuth errors (RFC 6749 §5.2, Entra) that mean the grant itself is refused: asking again will not help. */
const REFUSALS = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'interaction_required',
  'consent_required',
  'login_required',
]);

/** Error codes MSAL throws from a network module that rejects with a non-MSAL error. */
const NETWORK_CODES = new Set(['network_error', 'request_timeout', 'endpoints_resolution_error']);

/**
 * MSAL's HTTP client replaced by fetch with our timeout. Answers that are not JSON (a proxy's
 * HTML 502) become an OAuth-shaped error, so MSAL reports the status instead of a parse failure.
 */
class FetchNetworkClient implements INetworkModule {
  constructor(
    private readonly library: Msal,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: string,
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: options?.headers,
        body: options?.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const name = (error as { name?: string }).name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      // An AuthError passes through MSAL unchanged, so the reason survives.
      throw new this.library.AuthError(
        timedOut ? 'request_timeout' : 'network_error',
        timedOut ? 'token endpoint timed out' : 'token endpoint network error',
      );
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    let body = safeJson(text);
    if (!body || typeof body !== 'object') {
      body = response.ok
        ? {}
        : {
            error:
              response.status === 429 || response.status >= 500 ? 'temporarily_unavailable' : 'http_error',
            error_description: `HTTP ${response.status}`,
          };
    }
    // MSAL reads the HTTP status of a failed grant from the body (ServerError.status).
    if (!response.ok) Object.assign(body as object, { status: response.status });
    return { status: response.status, headers, body: body as T };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function notConfigured(detail: string): AppError {
  return new AppError('internal', `Microsoft 365 is not set up: ${detail}`, { retryable: false });
}

/**
 * Refused grants (invalid_grant: revoked, expired, password changed; consent withdrawn;
 * invalid_client) break the connection; throttling, outages and timeouts are retried. Entra's
 * descriptions carry AADSTS codes and trace ids: only the first line, cut short, is kept.
 */
function classify(error: unknown, library: Msal): Error {
  const { AuthError, InteractionRequiredAuthError, ServerError } = library;
  if (error instanceof AppError) return error;
  if (!(error instanceof AuthError)) {
    return new AppError('vendor_error', `${VENDOR} failed: ${(error as Error)?.message ?? 'unknown error'}`, {
      retryable: true,
      cause: error,
    });
  }
  const code = error.errorCode;
  const description = (error.errorMessage ?? '')
    .replace(/^.*?Description:\s*/s, '')
    .split(/\r?\n| - /)[0]
    ?.slice(0, 160);
  const detail = `${code}${description ? ` (${description})` : ''}`;
  if (NETWORK_CODES.has(code)) {
    return vendorUnavailable(
      VENDOR,
      code === 'request_timeout' ? 'token endpoint timed out' : 'token endpoint network error',
    );
  }
  const status = error instanceof ServerError ? error.status : undefined;
  if (code === 'temporarily_unavailable')
    return vendorUnavailable(VENDOR, `token endpoint answered ${status ?? code}`);
  if (error instanceof InteractionRequiredAuthError || REFUSALS.has(code)) {
    return new CredentialError(`Microsoft refused the calendar credentials: ${detail}`);
  }
  // MSAL replays a recent 429/5xx from its throttling cache as a ServerError without a status.
  if (error instanceof ServerError) {
    if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
      return new CredentialError(`Microsoft refused the calendar credentials: ${detail}`);
    }
    return vendorUnavailable(VENDOR, `token endpoint answered ${status ?? code ?? 'an error'}`);
  }
  // Client-side MSAL errors (bad configuration, an unreadable cache): not the rep's doing.
  return new AppError('internal', `${VENDOR}: ${detail}`, { retryable: false, cause: error });
}
