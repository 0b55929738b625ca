import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretValues } from '../../src/config/config.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('when nothing is set, then the documented defaults apply and Slack is off', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/briefly');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.http.port).toBe(3000);
    expect(config.http.publicUrl).toBe('http://localhost:3000');
    expect(config.slack.botToken).toBeUndefined();
    expect(config.slack.apiUrl).toBe('https://slack.com/api/');
    expect(config.log.format).toBe('pretty');
  });

  it('when DATABASE_URL is not a postgres URL, then loading fails naming it', () => {
    expect(problems({ DATABASE_URL: 'mysql://x/y' })).toEqual([
      expect.stringMatching(
        /^DATABASE_URL: must be a URL starting with postgres:\/\/ or postgresql:\/\/ \(value hidden\)$/,
      ),
    ]);
  });

  it('when several values are wrong, then every offending variable is listed', () => {
    const list = problems({
      PORT: 'abc',
      REDIS_URL: 'http://x',
      SLACK_BOT_TOKEN: 'xoxp-user-token',
      SLACK_ADMIN_USER_IDS: 'U123ABC, bob',
      LOG_LEVEL: 'loud',
      ENCRYPTION_KEY: 'short',
    });
    const names = list.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual([
      'ENCRYPTION_KEY',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'SLACK_ADMIN_USER_IDS.1',
      'SLACK_BOT_TOKEN',
    ]);
    expect(list.join('\n')).not.toContain('xoxp-user-token');
  });

  it('when a bot token is set without a signing secret or app token, then the signing secret is demanded', () => {
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1' })[0]).toMatch(/^SLACK_SIGNING_SECRET: is required/);
  });

  it('when in production without an encryption key, then loading fails', () => {
    expect(problems({ NODE_ENV: 'production', SMTP_URL: 'smtp://relay.test:587' })).toEqual([
      expect.stringMatching(/^ENCRYPTION_KEY: is required in production/),
    ]);
  });

  it('when in production without any email provider, or with the file outbox, then loading fails naming EMAIL_PROVIDERS', () => {
    const key = 'a'.repeat(64);
    expect(problems({ NODE_ENV: 'production', ENCRYPTION_KEY: key })).toEqual([
      expect.stringMatching(/^EMAIL_PROVIDERS: production needs a real email provider/),
    ]);
    expect(
      problems({
        NODE_ENV: 'production',
        ENCRYPTION_KEY: key,
        SMTP_URL: 'smtp://r.test',
        EMAIL_PROVIDERS: 'file-outbox',
      }),
    ).toEqual([expect.stringMatching(/^EMAIL_PROVIDERS: file-outbox is for development only/)]);
  });

  it('when EMAIL_PROVIDERS names a provider without its settings, then each missing variable is named', () => {
    const found = problems({ EMAIL_PROVIDERS: 'sendgrid,smtp,carrier-pigeon' });
    expect(found.join('\n')).toMatch(/EMAIL_PROVIDERS\.2: /);
    expect(problems({ EMAIL_PROVIDERS: 'sendgrid,smtp' })).toEqual([
      expect.stringMatching(/^SENDGRID_API_KEY: is required when EMAIL_PROVIDERS lists sendgrid/),
      expect.stringMatching(/^SMTP_URL: is required when EMAIL_PROVIDERS lists smtp/),
    ]);
  });

  it('when no provider is configured, then development uses the file outbox; configured vendors come SendGrid first', () => {
    expect(loadConfig({}).email.providers).toEqual(['file-outbox']);
    expect(loadConfig({ SMTP_URL: 'smtp://r.test', SENDGRID_API_KEY: 'SG.x' }).email.providers).toEqual([
      'sendgrid',
      'smtp',
    ]);
    expect(loadConfig({ EMAIL_FROM: 'Sales <sales@acme.test>' }).email.from).toEqual({
      name: 'Sales',
      email: 'sales@acme.test',
    });
    expect(problems({ EMAIL_FROM: 'not an address' })[0]).toMatch(/^EMAIL_FROM: must be an address/);
  });

  it('when the SendGrid key or SMTP password is configured, then they are among the secrets kept out of logs', () => {
    const config = loadConfig({
      SENDGRID_API_KEY: 'SG.secret-value',
      SMTP_URL: 'smtp://u:p%40ss-word@r.test',
    });
    expect(secretValues(config)).toEqual(expect.arrayContaining(['SG.secret-value', 'p@ss-word']));
  });

  it('when the encryption key is 32 bytes in hex or base64, then it is accepted', () => {
    expect(loadConfig({ ENCRYPTION_KEY: 'a'.repeat(64) }).encryptionKey?.length).toBe(32);
    expect(loadConfig({ ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }).encryptionKey?.length).toBe(
      32,
    );
  });
});
