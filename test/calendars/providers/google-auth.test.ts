import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GoogleAuth } from '../../../src/calendars/providers/google-auth.ts';
import { AppError } from '../../../src/errors.ts';

const TOKEN_HOST = 'https://google-oauth.test';
const exchange = {
  code: '4/0AQlEd8-auth-code',
  clientId: 'client-id-1.apps.googleusercontent.com',
  clientSecret: 'client-secret-1',
  redirectUri: 'https://briefly.acme.test/oauth/google/callback',
};
const auth = (authBaseUrl?: string) =>
  new GoogleAuth({
    tokenUrl: `${TOKEN_HOST}/token`,
    authBaseUrl,
    oauthClient: { clientId: exchange.clientId, clientSecret: exchange.clientSecret },
    timeoutMs: 300,
  });
const exchangeGoogleCode = (e: typeof exchange) => auth().exchangeCode(e.code, e.redirectUri);

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected the exchange to fail');
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('GoogleAuth.authUrl (google-auth-library OAuth2Client)', () => {
  it('when built, then it asks for offline read-only calendar access with a fresh consent and our state', () => {
    const url = new URL(auth('https://accounts.google.test').authUrl(exchange.redirectUri, 'state-abc&x=1'));

    expect(url.origin + url.pathname).toBe('https://accounts.google.test/o/oauth2/v2/auth');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: exchange.clientId,
      redirect_uri: exchange.redirectUri,
      response_type: 'code',
      scope: 'https://www.googleapis.com/auth/calendar.readonly',
      access_type: 'offline',
      prompt: 'consent',
      include_granted_scopes: 'true',
      state: 'state-abc&x=1',
    });
  });

  it('when no auth base URL is given, then Google accounts is used', () => {
    expect(auth().authUrl('https://r.test/cb', 's')).toMatch(
      /^https:\/\/accounts\.google\.com\/o\/oauth2\/v2\/auth\?/,
    );
  });
});

describe('GoogleAuth.exchangeCode (google-auth-library OAuth2Client)', () => {
  it('when Google grants a refresh token, then the code was sent with our client and redirect URI', async () => {
    let form: Record<string, string> = {};
    nock(TOKEN_HOST)
      .post('/token')
      .reply(200, (_uri, body) => {
        form = Object.fromEntries(new URLSearchParams(String(body)));
        return {
          access_token: 'ya29.x',
          expires_in: 3599,
          refresh_token: '1//refresh-1',
          token_type: 'Bearer',
        };
      });

    await expect(exchangeGoogleCode(exchange)).resolves.toEqual({ refreshToken: '1//refresh-1' });
    expect(form).toEqual({
      grant_type: 'authorization_code',
      code: exchange.code,
      client_id: exchange.clientId,
      client_secret: exchange.clientSecret,
      redirect_uri: exchange.redirectUri,
    });
  });

  it('when the answer has no refresh token, then it fails validation', async () => {
    nock(TOKEN_HOST)
      .post('/token')
      .reply(200, { access_token: 'ya29.x', expires_in: 3599, token_type: 'Bearer' });

    const error = await rejection(exchangeGoogleCode(exchange));

    expect(error.code).toBe('validation_failed');
    expect(error.fields[0]?.field).toBe('code');
  });

  it('when the code was already used (invalid_grant), then it fails validation without retry', async () => {
    nock(TOKEN_HOST).post('/token').reply(400, { error: 'invalid_grant', error_description: 'Bad Request' });

    const error = await rejection(exchangeGoogleCode(exchange));

    expect(error).toMatchObject({ code: 'validation_failed', retryable: false });
    expect(error.message).toContain('invalid_grant');
    expect(error.message).not.toContain(exchange.clientSecret);
  });

  it('when Google is down, then it is unavailable and retryable', async () => {
    nock(TOKEN_HOST).post('/token').reply(502, '<html>Bad Gateway</html>');

    await expect(exchangeGoogleCode(exchange)).rejects.toMatchObject({
      code: 'unavailable',
      retryable: true,
    });
  });

  it('when Google answers 200 with garbage, then it is unavailable', async () => {
    nock(TOKEN_HOST).post('/token').reply(200, 'not json');

    await expect(exchangeGoogleCode(exchange)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
