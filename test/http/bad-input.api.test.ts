import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };

beforeAll(async () => {
  svc = await startTestService({ EMAIL_PROVIDERS: 'file-outbox' });
  auth = await apiAuth(svc);
});
afterAll(async () => {
  await svc.close();
});

const request = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  svc.web.inject({
    method,
    url,
    headers: auth,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
const count = async (table: string) =>
  Number((await svc.db.query(`SELECT count(*) FROM ${table}`)).rows[0].count);

const message = { to: ['ana@client.test'], subject: 'Hello', text: 'Hi' };
const rep = { name: 'Ana Rep', email: 'ana.rep@acme.test', time_zone: 'Europe/Paris' };

describe('text PostgreSQL cannot store', () => {
  it.each([
    ['a NUL in the subject', { ...message, subject: 'Hi\u0000there' }, 'subject'],
    ['a lone surrogate in the text', { ...message, text: 'broken \ud800 text' }, 'text'],
    ['a NUL in a metadata value', { ...message, metadata: { crm: 'a\u0000b' } }, 'metadata.crm'],
    ['a lone low surrogate in a metadata key', { ...message, metadata: { 'k\udc00': 'v' } }, 'metadata'],
    [
      'a NUL in a display name',
      { ...message, to: [{ email: 'ana@client.test', name: 'A\u0000' }] },
      'to.0.name',
    ],
    [
      'a lone surrogate in template data',
      { ...message, text: undefined, template: 'notification', data: { x: '\ud83d' } },
      'data.x',
    ],
  ])(
    'when POST /v1/messages has %s, then it answers 400 naming the field and stores nothing',
    async (_what, body, field) => {
      const before = await count('messages');
      const res = await request('POST', '/v1/messages', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().errors).toContainEqual({ field, message: expect.stringMatching(/NUL|Unicode/) });
      expect(await count('messages')).toBe(before);
    },
  );

  it('when a valid surrogate pair (an emoji) is sent, then it is accepted', async () => {
    const res = await request('POST', '/v1/messages', { ...message, subject: 'Hi 👋' });
    expect(res.statusCode).toBe(202);
  });

  it('when POST /v1/suppressions has a lone surrogate in reason, then 400 and neither the suppression nor an audit row is stored', async () => {
    const audits = await count('audit_log');
    const res = await request('POST', '/v1/suppressions', { email: 'sup@client.test', reason: 'x\ud800' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'reason', message: expect.stringContaining('Unicode') }]);
    expect(await count('suppressions')).toBe(0);
    expect(await count('audit_log')).toBe(audits);
  });

  it('when a rep name or a query parameter has a NUL, then 400 names it', async () => {
    const created = await request('POST', '/v1/reps', { ...rep, name: 'Ana\u0000' });
    expect(created.statusCode).toBe(400);
    expect(created.json().errors).toEqual([{ field: 'name', message: expect.stringContaining('NUL') }]);
    const listed = await request('GET', '/v1/messages?tag=a%00b');
    expect(listed.statusCode).toBe(400);
    expect(listed.json().errors).toEqual([{ field: 'query.tag', message: expect.stringContaining('NUL') }]);
    const lookup = await request('GET', '/v1/suppressions/a%00b%40client.test');
    expect(lookup.statusCode).toBe(400);
    expect(lookup.json().errors[0].field).toBe('path.email');
  });
});

describe('other input PostgreSQL would refuse', () => {
  it('when a date filter is in year 0000, a cursor was not issued by the API, a body nests absurdly deep or a path is not UTF-8, then 400', async () => {
    const since = await request('GET', '/v1/messages?since=0000-01-01T00:00:00Z');
    expect(since.statusCode).toBe(400);
    expect(since.json().errors).toEqual([{ field: 'query.since', message: 'must be in 1970 or later' }]);
    const redrive = await request('POST', '/v1/messages/redrive', { since: '0000-01-01T00:00:00Z' });
    expect(redrive.statusCode).toBe(400);
    const forged = Buffer.from('2026-01-01T00:00:00Z|not-a-uuid').toString('base64url');
    const cursor = await request('GET', `/v1/messages?cursor=${forged}`);
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().errors[0].field).toBe('query.cursor');
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const nested = await request('POST', '/v1/messages', {
      ...message,
      text: undefined,
      template: 'notification',
      data: deep,
    });
    expect(nested.statusCode).toBe(400);
    expect(nested.json().errors[0].message).toBe('must not be nested more than 32 levels deep');
    const path = await request('GET', '/v1/suppressions/%ED%A0%80%40client.test');
    expect(path.statusCode).toBe(400);
    expect(path.headers['content-type']).toContain('application/problem+json');
  });
});

describe('header injection', () => {
  it.each([
    ['subject', { ...message, subject: 'Hi\r\nBcc: victim@evil.test' }, 'subject'],
    [
      'a to name',
      { ...message, to: [{ email: 'ana@client.test', name: 'Ana\nBcc: x@evil.test' }] },
      'to.0.name',
    ],
    ['a cc name', { ...message, cc: [{ email: 'c@client.test', name: 'C\r' }] }, 'cc.0.name'],
    ['the from name', { ...message, from: { email: 'me@acme.test', name: 'Me\n' } }, 'from.name'],
    ['the reply_to name', { ...message, reply_to: { email: 'r@acme.test', name: '\nR' } }, 'reply_to.name'],
  ])('when %s has CR or LF, then POST /v1/messages answers 400 naming it', async (_what, body, field) => {
    const before = await count('messages');
    const res = await request('POST', '/v1/messages', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toContainEqual({ field, message: 'must not contain line breaks (CR or LF)' });
    expect(await count('messages')).toBe(before);
  });

  it('when a rep name has a line break, then creating or renaming the rep answers 400', async () => {
    const created = await request('POST', '/v1/reps', { ...rep, name: 'Ana\r\nBcc: x@evil.test' });
    expect(created.statusCode).toBe(400);
    expect(created.json().errors).toEqual([
      { field: 'name', message: 'must not contain line breaks (CR or LF)' },
    ]);
    const ok = await request('POST', '/v1/reps', rep);
    expect(ok.statusCode).toBe(201);
    const renamed = await request('PATCH', `/v1/reps/${ok.json().id}`, { name: 'Ana\nRep' });
    expect(renamed.statusCode).toBe(400);
    expect((await svc.db.query('SELECT name FROM reps')).rows).toEqual([{ name: 'Ana Rep' }]);
  });
});

describe('types and bounds', () => {
  it('when a required field has the wrong type, then the error says what type it must be', async () => {
    const res = await request('POST', '/v1/reps', { ...rep, email: 42, time_zone: ['Europe/Paris'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual(
      expect.arrayContaining([
        { field: 'email', message: 'must be a string' },
        { field: 'time_zone', message: 'must be a string' },
      ]),
    );
    const missing = await request('POST', '/v1/reps', { name: 'No Email', time_zone: 'Europe/Paris' });
    expect(missing.json().errors).toEqual([{ field: 'email', message: 'is required' }]);
    const subject = await request('POST', '/v1/messages', { ...message, subject: 7 });
    expect(subject.json().errors).toEqual([{ field: 'subject', message: 'must be a string' }]);
    const shapes = await request('POST', '/v1/messages', { to: 'ana@client.test', text: 5, metadata: [] });
    expect(shapes.json().errors).toEqual(
      expect.arrayContaining([
        { field: 'to', message: 'must be an array' },
        { field: 'subject', message: 'is required' },
        { field: 'text', message: 'must be a string' },
        { field: 'metadata', message: 'must be an object' },
      ]),
    );
  });

  it('when send_at is in the year 9999, then 400; a year ahead is the limit', async () => {
    const far = await request('POST', '/v1/messages', { ...message, send_at: '9999-01-01T00:00:00Z' });
    expect(far.statusCode).toBe(400);
    expect(far.json().errors).toEqual([{ field: 'send_at', message: 'must be at most 365 days from now' }]);
    const inAMonth = new Date(Date.now() + 30 * 86_400_000).toISOString();
    expect((await request('POST', '/v1/messages', { ...message, send_at: inAMonth })).statusCode).toBe(202);
  });
});

describe('a write and its audit row are one transaction', () => {
  it('when the audit row cannot be written, then the suppression, rep or cancel it describes is not stored either', async () => {
    const accepted = await request('POST', '/v1/messages', {
      ...message,
      send_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const id = accepted.json().id;
    const before = { reps: await count('reps'), suppressions: await count('suppressions') };
    // A real failure inside PostgreSQL, after the write it audits has run.
    await svc.db.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_log is read-only in this test'; END $$`);
    await svc.db.query(
      'CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()',
    );
    try {
      const suppressed = await request('POST', '/v1/suppressions', { email: 'tx@client.test' });
      expect(suppressed.statusCode).toBe(500);
      const created = await request('POST', '/v1/reps', { ...rep, email: 'tx.rep@acme.test' });
      expect(created.statusCode).toBe(500);
      const cancelled = await request('POST', `/v1/messages/${id}/cancel`);
      expect(cancelled.statusCode).toBe(500);
      const redriven = await request('POST', '/v1/messages/redrive', { ids: [id] });
      expect(redriven.statusCode).toBe(500);
    } finally {
      await svc.db.query('DROP TRIGGER refuse_audit ON audit_log');
      await svc.db.query('DROP FUNCTION refuse_audit()');
    }
    expect(await count('suppressions')).toBe(before.suppressions);
    expect(await count('reps')).toBe(before.reps);
    expect((await request('GET', `/v1/messages/${id}`)).json().status).toBe('queued');
  });
});

describe('failed SQL in logs', () => {
  it('when a statement fails in PostgreSQL, then the log has the statement and error code but none of the values', async () => {
    await svc.db.query(`CREATE FUNCTION refuse_rep() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'reps is read-only in this test'; END $$`);
    await svc.db.query(
      'CREATE TRIGGER refuse_rep BEFORE INSERT ON reps FOR EACH ROW EXECUTE FUNCTION refuse_rep()',
    );
    try {
      const res = await request('POST', '/v1/reps', {
        ...rep,
        name: 'Zelda Secretname',
        email: 'zelda.secret@acme.test',
      });
      expect(res.statusCode).toBe(500);
      expect(res.json().detail).toBe('Internal error; it was logged');
    } finally {
      await svc.db.query('DROP TRIGGER refuse_rep ON reps');
      await svc.db.query('DROP FUNCTION refuse_rep()');
    }
    const logged = svc.log.lines().join('\n');
    const line = JSON.parse(svc.log.lines().findLast((l) => l.includes('unhandled error')) as string);
    expect(line).toMatchObject({
      route: '/v1/reps',
      code: 'P0001',
      error: expect.stringMatching(/^Failed query: insert into "reps"/),
    });
    expect(logged).not.toContain('zelda.secret@acme.test');
    expect(logged).not.toContain('Secretname');
    expect(logged).not.toContain('params:');
  });
});
