import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretValues } from '../../src/config/config.ts';
import { FakeOidcIssuer, freePort, signInOverHttp } from '../helpers/oidc.ts';
import { startTestService, type TestService, testEnv } from '../helpers/service.ts';

const SECRET = 'another-test-session-secret-32-chars-long';

describe('admin UI configuration', () => {
  const problems = (env: Record<string, string | undefined>) => {
    try {
      loadConfig(testEnv(env));
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  };

  it('when the OIDC settings are incomplete or unsafe, then the service refuses to start and names the variable', () => {
    expect(problems({ OIDC_CLIENT_ID: 'id', ADMIN_SESSION_SECRET: SECRET })).toEqual([
      expect.stringMatching(/^OIDC_CLIENT_SECRET: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together/),
    ]);
    expect(problems({ OIDC_CLIENT_SECRET: 'secret' })).toEqual([expect.stringMatching(/^OIDC_CLIENT_ID: /)]);
    expect(problems({ OIDC_CLIENT_ID: 'id', OIDC_CLIENT_SECRET: 'secret' })).toEqual([
      expect.stringMatching(/^ADMIN_SESSION_SECRET: is required with OIDC_CLIENT_ID/),
    ]);
    expect(problems({ ADMIN_SESSION_SECRET: 'short' })).toEqual([
      expect.stringMatching(/^ADMIN_SESSION_SECRET: must be at least 32 characters .*\(value hidden\)$/),
    ]);
    // Sign in with Slack (the default issuer) needs to know the workspace.
    expect(
      problems({
        OIDC_CLIENT_ID: 'id',
        OIDC_CLIENT_SECRET: 'secret',
        ADMIN_SESSION_SECRET: SECRET,
        SLACK_BOT_TOKEN: '',
        SLACK_SIGNING_SECRET: '',
      }),
    ).toEqual([expect.stringMatching(/^OIDC_SLACK_TEAM_ID: is required for Sign in with Slack/)]);
    expect(
      problems({
        NODE_ENV: 'production',
        ENCRYPTION_KEY: 'a'.repeat(64),
        SMTP_URL: 'smtp://mail.example.com',
        OIDC_ISSUER_URL: 'http://keycloak.internal/realms/acme',
        OIDC_CLIENT_ID: 'id',
        OIDC_CLIENT_SECRET: 'secret',
      }),
    ).toEqual([expect.stringMatching(/^OIDC_ISSUER_URL: must be https:\/\/ in production/)]);
  });

  it('when OIDC is configured, then the issuer decides the mode and the secrets are never logged', () => {
    const slack = loadConfig(
      testEnv({ OIDC_CLIENT_ID: 'id', OIDC_CLIENT_SECRET: 'client-secret-1', ADMIN_SESSION_SECRET: SECRET }),
    );
    expect(slack.admin).toMatchObject({ enabled: true, issuerUrl: 'https://slack.com', provider: 'slack' });
    expect(secretValues(slack)).toEqual(expect.arrayContaining(['client-secret-1', SECRET]));
    const google = loadConfig(
      testEnv({
        OIDC_ISSUER_URL: 'https://accounts.google.com/',
        OIDC_CLIENT_ID: 'id',
        OIDC_CLIENT_SECRET: 'secret',
        ENCRYPTION_KEY: 'b'.repeat(64),
      }),
    );
    expect(google.admin).toMatchObject({ issuerUrl: 'https://accounts.google.com', provider: 'generic' });
    // Derived from ENCRYPTION_KEY when ADMIN_SESSION_SECRET is not set.
    expect(google.admin.sessionSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(loadConfig(testEnv()).admin.enabled).toBe(false);
  });
});

describe('admin UI without sign-in configured', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({}, 'web');
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('when /admin is asked for, then every path answers 404 saying the UI is off; nothing is open', async () => {
    for (const path of [
      '/admin',
      '/admin/',
      '/admin/mailouts',
      '/admin/login',
      '/admin/auth/callback?code=x',
    ]) {
      const response = await svc.web.inject({ method: 'GET', url: path });
      expect(response.statusCode, path).toBe(404);
      expect(response.body, path).toContain('The admin UI is off');
    }
    const post = await svc.web.inject({
      method: 'POST',
      url: '/admin/mailouts/1/pause',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '_csrf=x',
    });
    expect(post.statusCode).toBe(404);
  });
});

describe('admin sign-in with another OpenID Connect issuer (Keycloak, Google, Auth0…)', () => {
  const issuer = new FakeOidcIssuer();
  let svc: TestService;
  let base: string;
  beforeAll(async () => {
    await issuer.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    svc = await startTestService(
      {
        PORT: String(port),
        PUBLIC_URL: base,
        OIDC_ISSUER_URL: issuer.url,
        OIDC_CLIENT_ID: issuer.clientId,
        OIDC_CLIENT_SECRET: issuer.clientSecret,
        ADMIN_SESSION_SECRET: SECRET,
      },
      'web',
    );
    await svc.db.query(
      `INSERT INTO reps (slack_user_id, name, email, time_zone, role)
       VALUES ('U0ANA00001', 'Ana Lima', 'Ana@Acme.test', 'America/Sao_Paulo', 'manager'),
              (NULL, 'Bo Chen', 'bo@acme.test', 'Asia/Kolkata', 'rep')`,
    );
  });
  afterAll(async () => {
    await svc?.close();
    await issuer.stop();
  });

  it('when a rep signs in with a verified email, then the session acts as their Slack user (or rep id) in their zone', async () => {
    const page = await (await fetch(`${base}/admin/sign-in`)).text();
    expect(page).toContain(`Sign in with ${new URL(issuer.url).host}`);
    const ana = await signInOverHttp(base, issuer, {
      sub: 'kc-123',
      email: 'ana@acme.test',
      email_verified: true,
      name: 'Ana L.',
    });
    expect(ana.back.status).toBe(303);
    const bo = await signInOverHttp(base, issuer, {
      sub: 'kc-456',
      email: 'bo@acme.test',
      email_verified: true,
    });
    expect(bo.back.status).toBe(303);
    const { rows } = await svc.db.query(
      `SELECT s.subject, s.actor, s.slack_user_id, s.time_zone, s.name, r.id::text AS rep_id
       FROM admin_sessions s LEFT JOIN reps r ON lower(r.email) = lower(s.email) ORDER BY s.subject`,
    );
    expect(rows).toEqual([
      {
        subject: 'kc-123',
        actor: 'U0ANA00001',
        slack_user_id: 'U0ANA00001',
        time_zone: 'America/Sao_Paulo',
        name: 'Ana L.',
        rep_id: expect.any(String),
      },
      {
        subject: 'kc-456',
        actor: rows[1].rep_id,
        slack_user_id: null,
        time_zone: 'Asia/Kolkata',
        name: 'Bo Chen',
        rep_id: expect.any(String),
      },
    ]);
    const list = await fetch(`${base}/admin/mailouts`, { headers: { cookie: bo.session ?? '' } });
    expect(await list.text()).toContain('Times in Asia/Kolkata');
  });

  it('when the email is unverified or belongs to no rep, then sign-in is refused', async () => {
    const stranger = await signInOverHttp(base, issuer, {
      sub: 'kc-999',
      email: 'stranger@else.test',
      email_verified: true,
    });
    expect(stranger.back.status).toBe(403);
    expect(await stranger.back.text()).toContain('stranger@else.test is not a rep in Briefly');
    const unverified = await signInOverHttp(base, issuer, {
      sub: 'kc-998',
      email: 'ana@acme.test',
      email_verified: false,
    });
    expect(unverified.back.status).toBe(403);
    expect(await unverified.back.text()).toContain('did not confirm your email address');
    const { rows } = await svc.db.query(`SELECT 1 FROM admin_sessions WHERE subject IN ('kc-999', 'kc-998')`);
    expect(rows).toHaveLength(0);
  });
});
