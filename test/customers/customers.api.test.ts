import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizePhone } from '../../src/customers/customer.schemas.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let auth: { authorization: string };

beforeAll(async () => {
  svc = await startTestService({}, 'web');
  auth = await apiAuth(svc);
});
afterAll(async () => svc.close());

const post = (url: string, payload: unknown) =>
  svc.web.inject({ method: 'POST', url, headers: auth, payload: payload as object });

describe('customers', () => {
  it('when phones come as +7, 8, with spaces and dashes, then they are stored as 11 digits', () => {
    expect(normalizePhone('+7 916 123-45-67')).toBe('79161234567');
    expect(normalizePhone('8 (916) 123-45-67')).toBe('79161234567');
    expect(normalizePhone('79161234567')).toBe('79161234567');
    expect(normalizePhone('+1 916 123 45 67')).toBeUndefined();
    expect(normalizePhone('7916123456')).toBeUndefined();
    expect(normalizePhone('7916123456a')).toBeUndefined();
  });

  it('when a customer is created, then the phone is normalized and the operator code defaults to digits 2-4', async () => {
    const res = await post('/v1/customers', {
      phone: '8 916 000-00-01',
      tag: 'vip',
      time_zone: 'Europe/Moscow',
    });
    expect(res.statusCode).toBe(201);
    const c = res.json();
    expect(c).toMatchObject({
      phone: '79160000001',
      operator_code: '916',
      tag: 'vip',
      time_zone: 'Europe/Moscow',
    });
    expect(typeof c.id).toBe('number');
    const got = await svc.web.inject({ method: 'GET', url: `/v1/customers/${c.id}`, headers: auth });
    expect(got.json()).toEqual(c);
    const dup = await post('/v1/customers', { phone: '+79160000001', time_zone: 'Europe/Moscow' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().errors[0].field).toBe('phone');
  });

  it('when the phone or the zone is wrong, then 400 names the field and nothing is stored', async () => {
    const bad = await post('/v1/customers', { phone: '12345', time_zone: 'Mars/Olympus' });
    expect(bad.statusCode).toBe(400);
    const fields = bad.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['phone', 'time_zone']));
    const { rows } = await svc.db.query("SELECT count(*)::int n FROM customers WHERE phone = '12345'");
    expect(rows[0].n).toBe(0);
  });

  it('when a customer is patched, then only the given fields change', async () => {
    const c = (await post('/v1/customers', { phone: '+79160000002', time_zone: 'Asia/Kolkata' })).json();
    const res = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/customers/${c.id}`,
      headers: auth,
      payload: { tag: 'gold', operator_code: '999' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      phone: '79160000002',
      tag: 'gold',
      operator_code: '999',
      time_zone: 'Asia/Kolkata',
    });
    const bad = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/customers/${c.id}`,
      headers: auth,
      payload: { time_zone: 'Nowhere/Land' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('time_zone');
  });

  it('when listing with filters, then pages follow the cursor and respect operator, tag and zone', async () => {
    for (let i = 0; i < 5; i++) {
      await post('/v1/customers', { phone: `+7903000000${i}`, tag: 'list', time_zone: 'Asia/Tokyo' });
    }
    const first = await svc.web.inject({
      method: 'GET',
      url: '/v1/customers?tag=list&limit=3',
      headers: auth,
    });
    expect(first.json().customers).toHaveLength(3);
    const cursor = first.json().next_cursor;
    expect(cursor).toBeTruthy();
    const second = await svc.web.inject({
      method: 'GET',
      url: `/v1/customers?tag=list&limit=3&cursor=${cursor}`,
      headers: auth,
    });
    expect(second.json().customers).toHaveLength(2);
    expect(second.json().next_cursor).toBeNull();
    const byOperator = await svc.web.inject({
      method: 'GET',
      url: '/v1/customers?operator_code=903&time_zone=Asia/Tokyo',
      headers: auth,
    });
    expect(byOperator.json().customers).toHaveLength(5);
  });

  it('when a CSV with bad rows is imported, then good rows are upserted and bad ones reported by line', async () => {
    await post('/v1/customers', { phone: '+79250000001', tag: 'old', time_zone: 'Europe/Moscow' });
    const csv = [
      'phone,operator_code,tag,time_zone',
      '+7 925 000-00-01,,new,Europe/Moscow', // line 2: update
      '89250000002,,vip,Asia/Kolkata', // line 3: insert
      'not-a-phone,,vip,Europe/Moscow', // line 4: bad phone
      '+79250000003,,vip,Mars/Base', // line 5: bad zone
      '"+79250000004",777,"tag, with comma",America/New_York', // line 6: insert, operator given
      '+79250000005,,vip,"unclosed', // line 7: broken CSV quoting
    ].join('\n');
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/customers/import',
      headers: { ...auth, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ inserted: 2, updated: 1 });
    expect(body.rejected).toBeGreaterThanOrEqual(2);
    expect(body.rejected_rows.slice(0, 2)).toEqual([
      { line: 4, reason: expect.stringContaining('phone') },
      { line: 5, reason: expect.stringContaining('time_zone') },
    ]);
    const { rows } = await svc.db.query(
      "SELECT phone, operator_code, tag FROM customers WHERE phone LIKE '7925%' ORDER BY phone",
    );
    expect(rows).toEqual([
      { phone: '79250000001', operator_code: '925', tag: 'new' },
      { phone: '79250000002', operator_code: '925', tag: 'vip' },
      { phone: '79250000004', operator_code: '777', tag: 'tag, with comma' },
    ]);
  });

  it('when NDJSON is imported, then lines that are not JSON are rejected and the rest land', async () => {
    const ndjson = [
      JSON.stringify({ phone: '+79260000001', tag: 'nd', time_zone: 'Europe/Moscow' }),
      '{broken',
      JSON.stringify({ phone: '+79260000002', time_zone: 'Asia/Kolkata' }),
      JSON.stringify({ phone: '+79260000001', tag: 'nd2', time_zone: 'Europe/Moscow' }),
    ].join('\n');
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/customers/import',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: ndjson,
    });
    expect(res.json()).toMatchObject({
      inserted: 2,
      updated: 0,
      rejected: 1,
      duplicates_in_file: 1,
      rejected_rows: [{ line: 2, reason: expect.stringContaining('json') }],
    });
    const { rows } = await svc.db.query("SELECT tag FROM customers WHERE phone = '79260000001'");
    expect(rows[0].tag).toBe('nd2');
  });

  it('when the import has another content type, then 400 says which ones are accepted', async () => {
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/customers/import',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { phone: '1' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/text\/csv/);
  });

  it('when a customer is deleted, then their pending mailout messages are cancelled', async () => {
    const c = (await post('/v1/customers', { phone: '+79270000001', time_zone: 'Europe/Moscow' })).json();
    await svc.db.query(
      `INSERT INTO mailouts (id, name, text, starts_at, ends_at, created_by, status)
       VALUES (9001, 'm', 't', now(), now() + interval '1 day', 'test', 'running')`,
    );
    await svc.db.query(
      `INSERT INTO mailout_messages (mailout_id, customer_id, time_zone, operator_code) VALUES (9001, $1, 'Europe/Moscow', '927')`,
      [c.id],
    );
    const res = await svc.web.inject({ method: 'DELETE', url: `/v1/customers/${c.id}`, headers: auth });
    expect(res.statusCode).toBe(204);
    const { rows } = await svc.db.query(
      'SELECT status, last_error FROM mailout_messages WHERE customer_id = $1',
      [c.id],
    );
    expect(rows).toEqual([{ status: 'cancelled', last_error: 'customer deleted' }]);
    const gone = await svc.web.inject({ method: 'GET', url: `/v1/customers/${c.id}`, headers: auth });
    expect(gone.statusCode).toBe(404);
  });

  it('when the OpenAPI document is read, then customers and mailouts endpoints are in it with examples', async () => {
    const doc = (await svc.web.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of [
      '/v1/customers',
      '/v1/customers/{id}',
      '/v1/customers/import',
      '/v1/mailouts',
      '/v1/mailouts/{id}',
      '/v1/mailouts/{id}/approve',
      '/v1/mailouts/preview',
      '/v1/mailouts/stats',
      '/v1/mailouts/{id}/stats',
      '/v1/mailouts/{id}/messages/{messageId}',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(JSON.stringify(doc.paths['/v1/mailouts'].post)).toContain('VIP December');
    expect(Object.keys(doc.paths['/v1/customers/import'].post.requestBody.content)).toContain('text/csv');
  });
});

describe('mailout metrics', () => {
  it('when /metrics is scraped, then the mailout and send API metrics are listed', async () => {
    const res = await fetch(svc.metricsUrl as string).then(async (r) => ({
      statusCode: r.status,
      body: await r.text(),
    }));
    expect(res.statusCode).toBe(200);
    for (const name of [
      'briefly_mailout_messages_total',
      'briefly_send_api_duration_seconds',
      'briefly_send_api_errors_total',
      'briefly_send_api_circuit_open 0',
      'briefly_mailout_backlog 0',
    ]) {
      expect(res.body).toContain(name);
    }
  });
});
