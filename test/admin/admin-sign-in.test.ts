import { createHash } from 'node:crypto';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CSP } from '../../src/admin/admin.routes.ts';
import { cookiePair, FakeOidcIssuer, type FakeUser, freePort, signInOverHttp } from '../helpers/oidc.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { fakeAuthTest } from '../helpers/slack.ts';

const issuer = new FakeOidcIssuer();
let svc: TestService;
let base: string;

/** fakeAuthTest answers auth.test with team T0001: the installed workspace. */
const WORKSPACE = 'T0001';
const slackUser = (id: string, extra: Record<string, unknown> = {}): FakeUser => ({
  sub: id,
  'https://slack.com/user_id': id,
  'https://slack.com/team_id': WORKSPACE,
  name: `User ${id}`,
  email: `${id.toLowerCase()}@acme.test`,
  email_verified: true,
  ...extra,
});

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  fakeAuthTest();
  await issuer.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  svc = await startTestService({
    PORT: String(port),
    PUBLIC_URL: base,
    OIDC_ISSUER_URL: issuer.url,
    OIDC_PROVIDER: 'slack',
    OIDC_CLIENT_ID: issuer.clientId,
    OIDC_CLIENT_SECRET: issuer.clientSecret,
    ADMIN_SESSION_SECRET: 'a-test-session-secret-of-at-least-32-chars',
  });
});

afterAll(async () => {
  await svc?.close();
  await issuer.stop();
  nock.cleanAll();
  nock.enableNetConnect();
});

const get = (path: string, cookie?: string) =>
  fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

const post = (path: string, form: Record<string, string>, cookie?: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form),
  });

/** The whole browser round trip; returns the session cookie ("briefly_admin=…") and the callback's answer. */
async function signIn(user: FakeUser, returnTo = '/admin/mailouts') {
  const result = await signInOverHttp(base, issuer, user, returnTo);
  expect(result.signInCookie).toBeDefined();
  return result;
}

async function csrfOf(session: string, path = '/admin/mailouts'): Promise<string> {
  const page = await get(path, session);
  const html = await page.text();
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`no CSRF token on ${path}`);
  return token;
}

async function rep(slackUserId: string, role: 'rep' | 'manager' | 'admin', timeZone = 'UTC') {
  await svc.db.query(
    `INSERT INTO reps (slack_user_id, name, email, time_zone, role) VALUES ($1, $2, $3, $4, $5)`,
    [slackUserId, `Rep ${slackUserId}`, `${slackUserId.toLowerCase()}@reps.test`, timeZone, role],
  );
}

async function mailout(createdBy: string, submit: boolean) {
  const start = new Date(Date.now() + 86_400_000);
  return svc.mailouts.service.create(
    {
      name: `m-${Math.random().toString(36).slice(2, 8)}`,
      text: 'Hello',
      starts_at: start,
      ends_at: new Date(start.getTime() + 86_400_000),
      created_by: createdBy,
      submit,
    },
    createdBy,
  );
}

describe('admin sign-in (OpenID Connect, Sign in with Slack)', () => {
  it('when a page is asked for without a session, then it redirects to the sign-in page naming where to return', async () => {
    const response = await get('/admin/mailouts/7?status=sent');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(
      `/admin/sign-in?return_to=${encodeURIComponent('/admin/mailouts/7?status=sent')}`,
    );
    const page = await get('/admin/sign-in?return_to=%2Fadmin%2Fmailouts');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<h1>Sign in</h1>');
    expect(html).toContain('href="/admin/login?return_to=%2Fadmin%2Fmailouts"');
    expect(html).toContain('Sign in with Slack');
  });

  it('when a member of the workspace signs in, then the code flow uses PKCE, state and nonce and a server-side session is made', async () => {
    const { back, session, signInCookie, callback } = await signIn(
      slackUser('U0MEMBER01'),
      '/admin/customers',
    );
    // The authorization request.
    const asked = issuer.authorizeRequests.at(-1)?.query ?? {};
    expect(asked).toMatchObject({
      response_type: 'code',
      client_id: issuer.clientId,
      redirect_uri: `${base}/admin/auth/callback`,
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    expect(asked.state).toMatch(/^[\w-]{20,}$/);
    expect(asked.nonce).toMatch(/^[\w-]{20,}$/);
    expect(callback.searchParams.get('state')).toBe(asked.state);
    // The token request: the verifier matches the challenge, the secret went along.
    const token = issuer.tokenRequests.at(-1);
    expect(token?.body.grant_type).toBe('authorization_code');
    expect(
      createHash('sha256')
        .update(token?.body.code_verifier ?? '')
        .digest('base64url'),
    ).toBe(asked.code_challenge);
    expect(token?.body.client_secret ?? token?.authorization).toBeTruthy();
    // The sign-in cookie is sealed: none of the secrets are readable in it.
    expect(decodeURIComponent(signInCookie ?? '')).not.toContain(asked.state);
    expect(decodeURIComponent(signInCookie ?? '')).not.toContain(token?.body.code_verifier);

    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/admin/customers');
    const set = back.headers.getSetCookie().find((c) => c.startsWith('briefly_admin='));
    expect(set).toMatch(/Path=\/admin/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).not.toMatch(/Secure/); // PUBLIC_URL is http here
    expect(back.headers.getSetCookie().some((c) => /^briefly_admin_signin=;.*Max-Age=0/.test(c))).toBe(true);

    // Only the token's hash is stored.
    const tokenValue = decodeURIComponent(session?.split('=')[1] ?? '');
    const { rows } = await svc.db.query(
      'SELECT id, actor, team_id, time_zone, expires_at FROM admin_sessions WHERE actor = $1',
      ['U0MEMBER01'],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(createHash('sha256').update(tokenValue).digest('hex'));
    expect(rows[0].team_id).toBe(WORKSPACE);
    const hours = (rows[0].expires_at.getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    const audit = await svc.db.query(`SELECT actor FROM audit_log WHERE action = 'admin.sign_in'`);
    expect(audit.rows.map((r) => r.actor)).toContain('U0MEMBER01');

    const page = await get('/admin/customers', session);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Signed in as <strong>User U0MEMBER01</strong>');
    expect(page.headers.get('content-security-policy')).toBe(ADMIN_CSP);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('when someone from another Slack workspace signs in, then they are refused and get no session', async () => {
    const { back, session } = await signIn(
      slackUser('U0OUTSIDE1', { 'https://slack.com/team_id': 'T0OTHER' }),
    );
    expect(back.status).toBe(403);
    expect(await back.text()).toContain(
      'Only members of the Slack workspace Briefly is installed in may sign in',
    );
    expect(session).toBeUndefined();
    const { rows } = await svc.db.query('SELECT 1 FROM admin_sessions WHERE actor = $1', ['U0OUTSIDE1']);
    expect(rows).toHaveLength(0);
  });

  it('when the callback carries another state, no sign-in cookie, a wrong nonce or an error, then nobody is signed in', async () => {
    issuer.user = slackUser('U0FORGED01');
    // A state that is not the one this browser started with.
    const start = await get('/admin/login');
    const cookie = cookiePair(start, 'briefly_admin_signin');
    const atIssuer = await fetch(start.headers.get('location') ?? '', { redirect: 'manual' });
    const callback = new URL(atIssuer.headers.get('location') ?? '');
    callback.searchParams.set('state', 'not-the-state-we-sent');
    const forged = await get(`${callback.pathname}${callback.search}`, cookie);
    expect(forged.status).toBe(400);
    expect(cookiePair(forged, 'briefly_admin')).toBeUndefined();

    // A callback this browser never started (login CSRF).
    const stray = await get('/admin/auth/callback?code=abc&state=def');
    expect(stray.status).toBe(400);
    expect(await stray.text()).toContain('This sign-in was not started here');

    // The ID token's nonce is not the one sent.
    issuer.tamper = (claims) => {
      claims.nonce = 'another-nonce';
    };
    const wrongNonce = await signIn(slackUser('U0FORGED01'));
    expect(wrongNonce.back.status).toBe(400);
    expect(wrongNonce.session).toBeUndefined();

    // The person declined at the provider.
    issuer.deny = true;
    const denied = await signIn(slackUser('U0FORGED01'));
    expect(denied.back.status).toBe(403);
    expect(await denied.back.text()).toContain('cancelled or refused');

    const { rows } = await svc.db.query('SELECT 1 FROM admin_sessions WHERE actor = $1', ['U0FORGED01']);
    expect(rows).toHaveLength(0);
  });

  it('when return_to points elsewhere, then sign-in still ends on an admin page', async () => {
    const { back } = await signIn(slackUser('U0RETURN01'), 'https://evil.example/steal');
    expect(back.headers.get('location')).toBe('/admin/mailouts');
    const { back: slashes } = await signIn(slackUser('U0RETURN01'), '//evil.example/admin/');
    expect(slashes.headers.get('location')).toBe('/admin/mailouts');
  });
});

describe('admin forms: CSRF and the mailout rules', () => {
  it('when a form comes without the session CSRF token, then it is refused with 403 and nothing changes', async () => {
    const { session } = await signIn(slackUser('U0CSRF0001'));
    if (!session) throw new Error('no session');
    const draft = await mailout('U0SOMEONE1', false);
    const path = `/admin/mailouts/${draft.id}/cancel`;

    const missing = await post(path, {}, session);
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('did not carry the security token');
    const wrong = await post(path, { _csrf: 'x'.repeat(43) }, session);
    expect(wrong.status).toBe(403);
    // Another session's token does not do either.
    const other = await signIn(slackUser('U0CSRF0002'));
    const otherToken = await csrfOf(other.session ?? '');
    expect((await post(path, { _csrf: otherToken }, session)).status).toBe(403);
    // JSON with the right token is not a form post from our page either.
    const token = await csrfOf(session);
    const json = await fetch(`${base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', cookie: session },
      body: JSON.stringify({ csrf: token }),
    });
    expect(json.status).toBe(403);
    expect((await svc.mailouts.service.get(draft.id)).status).toBe('draft');

    // Without a session at all.
    const anonymous = await post(path, { _csrf: token });
    expect(anonymous.status).toBe(403);

    const ok = await post(path, { _csrf: token }, session);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/admin/mailouts/${draft.id}?done=cancelled`);
    expect((await svc.mailouts.service.get(draft.id)).status).toBe('cancelled');
    const audit = await svc.db.query(
      `SELECT actor FROM audit_log WHERE subject = $1 AND action LIKE 'mailout.%' ORDER BY id DESC LIMIT 1`,
      [`mailout:${draft.id}`],
    );
    expect(audit.rows[0]?.actor).toBe('U0CSRF0001');
  });

  it('when a manager approves in the UI, then the mailout service rules apply: not their own, only managers', async () => {
    await rep('U0MANAGER1', 'manager');
    const manager = await signIn(slackUser('U0MANAGER1'));
    const member = await signIn(slackUser('U0PLAIN001'));
    const theirs = await mailout('U0AUTHOR01', true);
    expect(theirs.status).toBe('pending_approval');
    const own = await mailout('U0MANAGER1', true);

    const memberToken = await csrfOf(member.session ?? '');
    const refused = await post(
      `/admin/mailouts/${theirs.id}/approve`,
      { _csrf: memberToken, version: String(theirs.version) },
      member.session,
    );
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('is not a manager: only managers approve');

    const token = await csrfOf(manager.session ?? '');
    const ownRefused = await post(
      `/admin/mailouts/${own.id}/approve`,
      { _csrf: token, version: String(own.version) },
      manager.session,
    );
    expect(ownRefused.status).toBe(403);
    expect(await ownRefused.text()).toContain('Nobody decides on their own mailout');

    const stale = await post(
      `/admin/mailouts/${theirs.id}/approve`,
      { _csrf: token, version: String(theirs.version + 1) },
      manager.session,
    );
    expect(stale.status).toBe(409);

    const approved = await post(
      `/admin/mailouts/${theirs.id}/approve`,
      { _csrf: token, version: String(theirs.version) },
      manager.session,
    );
    expect(approved.status).toBe(303);
    const after = await svc.mailouts.service.get(theirs.id);
    expect(after.status).toBe('scheduled');
    expect(after.approved_by).toBe('U0MANAGER1');
  });

  it('when a mailout is created from the form, then local times are read in the person own zone (+05:30) and a skipped DST time is refused', async () => {
    await rep('U0KOLKATA1', 'rep', 'Asia/Kolkata');
    await rep('U0NEWYORK1', 'rep', 'America/New_York');
    const kolkata = await signIn(slackUser('U0KOLKATA1'));
    const token = await csrfOf(kolkata.session ?? '', '/admin/mailouts/new');
    const newPage = await (await get('/admin/mailouts/new', kolkata.session)).text();
    expect(newPage).toContain('<label for="f-starts_at">Starts (Asia/Kolkata)</label>');

    const form = {
      _csrf: token,
      name: 'Diwali offer',
      text: 'Happy Diwali: -20% this week',
      starts_at: '2030-10-20T09:00',
      ends_at: '2030-10-22T18:30',
      operator_codes: '916, 903',
      tags: 'vip',
      window_from: '10:00',
      window_to: '20:00',
      submit: '1',
    };
    const created = await post('/admin/mailouts', form, kolkata.session);
    expect(created.status).toBe(303);
    const id = Number(
      /\/admin\/mailouts\/(\d+)\?done=created/.exec(created.headers.get('location') ?? '')?.[1],
    );
    const stored = await svc.mailouts.service.get(id);
    expect(stored.starts_at).toBe('2030-10-20T03:30:00.000Z');
    expect(stored.ends_at).toBe('2030-10-22T13:00:00.000Z');
    expect(stored.filter).toEqual({ operator_codes: ['916', '903'], tags: ['vip'] });
    expect(stored.window).toEqual({ from: '10:00', to: '20:00' });
    expect(stored.created_by).toBe('U0KOLKATA1');
    const shown = await (await get(`/admin/mailouts/${id}`, kolkata.session)).text();
    expect(shown).toContain('2030-10-20 09:00 GMT+5:30');

    // New York: 02:30 on 10 March 2030 does not exist (clocks go from 02:00 to 03:00).
    const newYork = await signIn(slackUser('U0NEWYORK1'));
    const nyToken = await csrfOf(newYork.session ?? '', '/admin/mailouts/new');
    const gap = await post(
      '/admin/mailouts',
      {
        ...form,
        _csrf: nyToken,
        starts_at: '2030-03-10T02:30',
        ends_at: '2030-03-11T09:00',
        operator_codes: '91',
      },
      newYork.session,
    );
    expect(gap.status).toBe(400);
    const html = await gap.text();
    expect(html).toContain('2030-03-10 02:30 does not exist in America/New_York');
    expect(html).toContain('aria-invalid="true"');
    expect(html).toMatch(/operator_codes[\s\S]*must be 3 digits/);
    const { rows } = await svc.db.query(
      `SELECT count(*)::int AS n FROM mailouts WHERE created_by = 'U0NEWYORK1'`,
    );
    expect(rows[0].n).toBe(0);
    // Summer time: 09:00 EDT is 13:00 UTC.
    const summer = await post(
      '/admin/mailouts',
      { ...form, _csrf: nyToken, starts_at: '2030-07-01T09:00', ends_at: '2030-07-02T09:00' },
      newYork.session,
    );
    expect(summer.status).toBe(303);
    const summerId = Number(/(\d+)\?done/.exec(summer.headers.get('location') ?? '')?.[1]);
    expect((await svc.mailouts.service.get(summerId)).starts_at).toBe('2030-07-01T13:00:00.000Z');
  });

  it('when customers are searched by phone, then the number is normalized and a bad one is named', async () => {
    const { session } = await signIn(slackUser('U0SEARCH01'));
    await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone) VALUES ('79161112233', '916', 'vip', 'Asia/Kolkata')`,
    );
    const found = await get(`/admin/customers?phone=${encodeURIComponent('+7 916 111-22-33')}`, session);
    expect(found.status).toBe(200);
    expect(await found.text()).toContain('79161112233');
    const bad = await get('/admin/customers?phone=12', session);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Phone: must be a phone number');
  });

  it('when a person signs out, then the session is gone and pages send them to sign-in again', async () => {
    const { session } = await signIn(slackUser('U0LEAVING1'));
    const token = await csrfOf(session ?? '');
    expect((await post('/admin/logout', {}, session)).status).toBe(403);
    const out = await post('/admin/logout', { _csrf: token }, session);
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/admin/sign-in?signed_out=1');
    expect(out.headers.getSetCookie().some((c) => /^briefly_admin=;.*Max-Age=0/.test(c))).toBe(true);
    const { rows } = await svc.db.query('SELECT 1 FROM admin_sessions WHERE actor = $1', ['U0LEAVING1']);
    expect(rows).toHaveLength(0);
    const again = await get('/admin/mailouts', session);
    expect(again.status).toBe(302);
    expect(again.headers.get('location')).toMatch(/^\/admin\/sign-in\?return_to=/);
  });
});
