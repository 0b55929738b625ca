import { createHash } from 'node:crypto';
import { z } from 'zod';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';

/** An access token from an OAuth 2.0 token endpoint (RFC 6749 §5.1). */
export interface TokenAnswer {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Present when the endpoint rotates or first issues a refresh token. */
  refreshToken?: string;
}

/**
 * A token request that failed. `rejected`: the endpoint refused the grant (RFC 6749 §5.2:
 * invalid_grant, invalid_client, unauthorized_client...), so asking again will not help.
 * `unavailable`: throttled, down, timed out or answered garbage. The message carries the OAuth
 * error code, never the form that was sent.
 */
export class TokenRequestError extends Error {
  constructor(
    readonly kind: 'rejected' | 'unavailable',
    message: string,
    readonly details: { status?: number; oauthError?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'TokenRequestError';
  }
}

const tokenSuccess = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
  refresh_token: z.string().min(1).optional(),
});

const tokenFailure = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

/** Access tokens are not taken from a cached answer when they expire within this margin. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
/** When an endpoint leaves out expires_in (it is only RECOMMENDED), assume the common hour. */
const DEFAULT_LIFETIME_S = 3600;

/** POSTs an application/x-www-form-urlencoded token request and parses the answer. */
export async function requestToken(
  url: string,
  form: Record<string, string>,
  timeoutMs: number,
): Promise<TokenAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const name = (error as Error).name;
    const why = name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : 'network error';
    throw new TokenRequestError('unavailable', `token endpoint ${why}`);
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok) {
    const parsed = tokenSuccess.safeParse(body);
    if (!parsed.success) {
      throw new TokenRequestError('unavailable', 'token endpoint answered without an access token', {
        status: response.status,
      });
    }
    return {
      accessToken: parsed.data.access_token,
      expiresAt: Date.now() + (parsed.data.expires_in ?? DEFAULT_LIFETIME_S) * 1000,
      refreshToken: parsed.data.refresh_token,
    };
  }
  const status = response.status;
  const retryAfterSeconds = rateLimitWaitSeconds(response.headers);
  const failure = tokenFailure.safeParse(body);
  const oauthError = failure.success ? failure.data.error : undefined;
  if (status === 429 || status >= 500 || oauthError === 'temporarily_unavailable') {
    throw new TokenRequestError('unavailable', `token endpoint answered ${status}`, {
      status,
      oauthError,
      retryAfterSeconds,
    });
  }
  // Descriptions (Google's "Token has been expired or revoked.", Entra's AADSTS codes) name the
  // cause without echoing the grant; they are cut short because Entra appends trace ids.
  const description = failure.success
    ? failure.data.error_description?.split(/\r?\n/)[0]?.slice(0, 160)
    : undefined;
  const detail = oauthError ? `${oauthError}${description ? ` (${description})` : ''}` : `HTTP ${status}`;
  throw new TokenRequestError('rejected', `token endpoint refused the grant: ${detail}`, {
    status,
    oauthError,
  });
}

/**
 * Access tokens in memory, keyed by a hash of what identifies the grant (never the secret itself),
 * so consecutive syncs of one connection, or every app-only sync of one tenant, share a token.
 * Concurrent misses for one key share one request.
 */
export class AccessTokenCache {
  private readonly tokens = new Map<string, TokenAnswer>();
  private readonly pending = new Map<string, Promise<TokenAnswer>>();

  static key(...parts: string[]): string {
    return createHash('sha256').update(parts.join('\u0000')).digest('hex');
  }

  async get(key: string, fetchToken: () => Promise<TokenAnswer>): Promise<string> {
    const now = Date.now();
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > now) return cached.accessToken;
    let request = this.pending.get(key);
    if (!request) {
      request = fetchToken().finally(() => this.pending.delete(key));
      this.pending.set(key, request);
    }
    const answer = await request;
    this.prune(now);
    this.tokens.set(key, answer);
    return answer.accessToken;
  }

  /** Forgets a token the API refused, so the next call asks the token endpoint again. */
  evict(key: string): void {
    this.tokens.delete(key);
  }

  private prune(now: number): void {
    for (const [key, token] of this.tokens) if (token.expiresAt <= now) this.tokens.delete(key);
  }
}
