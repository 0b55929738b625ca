import { createHash, createSign, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';

/** Claims the next sign-in gets in its ID token (besides iss, aud, exp, iat, nonce). */
export type FakeUser = { sub: string } & Record<string, unknown>;

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce?: string;
  user: FakeUser;
}

export interface AuthorizeRequest {
  query: Record<string, string>;
}

export interface TokenRequest {
  body: Record<string, string>;
  authorization?: string;
}

/**
 * A local OpenID Connect provider for tests: discovery document, JWKS, an authorize endpoint that
 * signs in `user` at once (no login form) and redirects back with a code, and a token endpoint
 * that checks the client secret, the redirect URI and the PKCE verifier and issues an RS256 ID token.
 */
export class FakeOidcIssuer {
  readonly clientId = 'briefly-admin-test';
  readonly clientSecret = `secret-${randomBytes(8).toString('hex')}`;
  /** Who signs in next. */
  user: FakeUser = { sub: 'U0TEST0001' };
  /** Answer the next authorize request with `error=access_denied` instead of a code. */
  deny = false;
  /** Change the next ID token's claims after they are built (e.g. a wrong nonce). */
  tamper?: (claims: Record<string, unknown>) => void;
  readonly authorizeRequests: AuthorizeRequest[] = [];
  readonly tokenRequests: TokenRequest[] = [];
  private readonly grants = new Map<string, Grant>();
  private readonly kid = randomBytes(6).toString('hex');
  private readonly privateKey: KeyObject;
  private readonly publicJwk: Record<string, unknown>;
  private server?: Server;
  url = '';

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' };
  }

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.handle(request)
        .then(({ status, headers, body }) => {
          response.writeHead(status, headers);
          response.end(body);
        })
        .catch((error: Error) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(error.message);
        });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async handle(
    request: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const url = new URL(request.url ?? '/', this.url);
    const json = (status: number, value: unknown) => ({
      status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
    if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/authorize`,
        token_endpoint: `${this.url}/token`,
        jwks_uri: `${this.url}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'profile'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
        claims_supported: ['sub', 'email', 'email_verified', 'name'],
      });
    }
    if (request.method === 'GET' && url.pathname === '/jwks') return json(200, { keys: [this.publicJwk] });
    if (request.method === 'GET' && url.pathname === '/authorize') {
      const query = Object.fromEntries(url.searchParams);
      this.authorizeRequests.push({ query });
      const back = new URL(query.redirect_uri ?? '');
      if (query.state) back.searchParams.set('state', query.state);
      if (this.deny) {
        this.deny = false;
        back.searchParams.set('error', 'access_denied');
      } else if (
        query.client_id !== this.clientId ||
        query.response_type !== 'code' ||
        query.code_challenge_method !== 'S256' ||
        !query.code_challenge ||
        !(query.scope ?? '').split(' ').includes('openid')
      ) {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = randomBytes(16).toString('hex');
        this.grants.set(code, {
          clientId: query.client_id,
          redirectUri: query.redirect_uri ?? '',
          challenge: query.code_challenge,
          nonce: query.nonce,
          user: this.user,
        });
        back.searchParams.set('code', code);
      }
      return { status: 302, headers: { location: back.href }, body: '' };
    }
    if (request.method === 'POST' && url.pathname === '/token') {
      const raw = await new Promise<string>((resolve) => {
        let data = '';
        request.on('data', (chunk) => {
          data += chunk;
        });
        request.on('end', () => resolve(data));
      });
      const body = Object.fromEntries(new URLSearchParams(raw));
      this.tokenRequests.push({ body, authorization: request.headers.authorization });
      const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      const [basicId, basicSecret] = basic
        ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent)
        : [body.client_id, body.client_secret];
      if (basicId !== this.clientId || basicSecret !== this.clientSecret) {
        return json(401, { error: 'invalid_client' });
      }
      const grant = body.code ? this.grants.get(body.code) : undefined;
      if (body.code) this.grants.delete(body.code);
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url');
      if (
        body.grant_type !== 'authorization_code' ||
        !grant ||
        grant.redirectUri !== body.redirect_uri ||
        grant.challenge !== challenge
      ) {
        return json(400, { error: 'invalid_grant' });
      }
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: this.url,
        aud: grant.clientId,
        iat: now,
        exp: now + 300,
        ...(grant.nonce ? { nonce: grant.nonce } : {}),
        ...grant.user,
      };
      this.tamper?.(claims);
      this.tamper = undefined;
      return json(200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        id_token: this.sign(claims),
      });
    }
    return json(404, { error: 'not_found' });
  }

  private sign(claims: Record<string, unknown>): string {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${part({ alg: 'RS256', typ: 'JWT', kid: this.kid })}.${part(claims)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(this.privateKey).toString('base64url');
    return `${input}.${signature}`;
  }
}

/** A port free right now (PUBLIC_URL must name the port before the service listens on it). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no address');
  return address.port;
}

/** The session cookie pair ("name=value") an answer sets, if any. */
export function cookiePair(response: Response, name: string): string | undefined {
  return response.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];
}

/**
 * The browser's part of a sign-in, over plain HTTP: /admin/login, the issuer's authorize redirect,
 * the callback with the sign-in cookie. Returns the callback's answer and the session cookie it set.
 */
export async function signInOverHttp(
  base: string,
  issuer: FakeOidcIssuer,
  user: FakeUser,
  returnTo = '/admin/mailouts',
) {
  issuer.user = user;
  const start = await fetch(`${base}/admin/login?return_to=${encodeURIComponent(returnTo)}`, {
    redirect: 'manual',
  });
  if (start.status !== 302) throw new Error(`/admin/login answered ${start.status}: ${await start.text()}`);
  const signInCookie = cookiePair(start, 'briefly_admin_signin');
  const atIssuer = await fetch(start.headers.get('location') ?? '', { redirect: 'manual' });
  const callback = new URL(atIssuer.headers.get('location') ?? '');
  const back = await fetch(`${base}${callback.pathname}${callback.search}`, {
    redirect: 'manual',
    headers: signInCookie ? { cookie: signInCookie } : {},
  });
  return { back, session: cookiePair(back, 'briefly_admin'), signInCookie, callback };
}
