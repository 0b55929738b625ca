import { AppError } from '../../errors.ts';
import { vendorUnavailable } from '../calendar-provider.ts';
import { GOOGLE_CALENDAR_SCOPE } from './google.calendar-provider.ts';
import { requestToken, TokenRequestError } from './oauth-token.ts';

/**
 * The consent URL for a rep connecting their own Google calendar. `access_type=offline` asks for a
 * refresh token and `prompt=consent` makes Google issue one again when the rep reconnects (without
 * it a second consent returns only an access token).
 */
export function googleAuthUrl(opts: {
  clientId: string;
  redirectUri: string;
  state: string;
  authBaseUrl?: string;
}): string {
  const url = new URL('/o/oauth2/v2/auth', opts.authBaseUrl ?? 'https://accounts.google.com');
  url.search = new URLSearchParams({
    client_id: opts.clientId,
    redirect_uri: opts.redirectUri,
    response_type: 'code',
    scope: GOOGLE_CALENDAR_SCOPE,
    access_type: 'offline',
    prompt: 'consent',
    include_granted_scopes: 'true',
    state: opts.state,
  }).toString();
  return url.toString();
}

/** Trades the authorization code from the redirect for the refresh token we store. */
export async function exchangeGoogleCode(opts: {
  code: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  tokenUrl: string;
  timeoutMs: number;
}): Promise<{ refreshToken: string }> {
  let refreshToken: string | undefined;
  try {
    const answer = await requestToken(
      opts.tokenUrl,
      {
        grant_type: 'authorization_code',
        code: opts.code,
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uri: opts.redirectUri,
      },
      opts.timeoutMs,
    );
    refreshToken = answer.refreshToken;
  } catch (error) {
    if (!(error instanceof TokenRequestError)) throw error;
    if (error.kind === 'unavailable') {
      throw vendorUnavailable('Google sign-in', error.message, error.details.retryAfterSeconds);
    }
    // invalid_grant here means the code expired or was already used: the rep starts over.
    throw new AppError('validation_failed', `Google did not accept the sign-in: ${error.message}`, {
      fields: [{ field: 'code', message: error.details.oauthError ?? 'rejected' }],
    });
  }
  if (!refreshToken) {
    throw new AppError(
      'validation_failed',
      'Google granted no refresh token: remove Briefly from your Google account and connect again',
      {
        fields: [{ field: 'code', message: 'no refresh_token in the answer' }],
      },
    );
  }
  return { refreshToken };
}
