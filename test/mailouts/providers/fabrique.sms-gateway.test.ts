import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FabriqueSmsGateway, jwtExpiry } from '../../../src/mailouts/providers/fabrique.sms-gateway.ts';
import type { SmsGatewayError } from '../../../src/mailouts/providers/sms-gateway.ts';
import { fakeJwt } from '../../helpers/send-api.ts';

const BASE = 'https://probe.test/v1';
const TOKEN = fakeJwt(2_000_000_000);
const gateway = new FabriqueSmsGateway({ baseUrl: BASE, token: TOKEN });
const message = { id: 9_007_199_254, phone: '79161234567', text: 'Привет, "VIP"' };
const soon = (ms = 500) => ({ deadline: new Date(Date.now() + ms), deadlineIsEnd: false });

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await gateway.close();
});

async function failure(promise: Promise<unknown>): Promise<SmsGatewayError> {
  try {
    await promise;
  } catch (error) {
    return error as SmsGatewayError;
  }
  throw new Error('expected a failure');
}

describe('FabriqueSmsGateway', () => {
  it('when the API answers the documented success, then the body carries id, numeric phone and text with the bearer token', async () => {
    let body: unknown;
    nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .post(`/send/${message.id}`, (b) => {
        body = b;
        return true;
      })
      .reply(200, { code: 0, message: 'OK' });
    await expect(gateway.send(message, soon())).resolves.toEqual({ status: 200 });
    expect(body).toEqual({ id: message.id, phone: 79161234567, text: 'Привет, "VIP"' });
  });

  it('when a 200 carries anything but the success body, then it is a transient garbage answer', async () => {
    nock(BASE).post(`/send/${message.id}`).reply(200, '<html>maintenance</html>');
    const error = await failure(gateway.send(message, soon()));
    expect(error).toMatchObject({ kind: 'transient', errorKind: 'garbage', status: 200 });
    nock(BASE).post(`/send/${message.id}`).reply(200, { code: 0, message: 'NOT OK' });
    expect(await failure(gateway.send(message, soon()))).toMatchObject({ errorKind: 'garbage' });
  });

  it('when the API answers 5xx or 429, then it is transient; other 4xx are permanent', async () => {
    nock(BASE).post(`/send/${message.id}`).reply(503, 'busy');
    expect(await failure(gateway.send(message, soon()))).toMatchObject({
      kind: 'transient',
      errorKind: 'http_5xx',
    });
    nock(BASE).post(`/send/${message.id}`).reply(429, '');
    expect(await failure(gateway.send(message, soon()))).toMatchObject({
      kind: 'transient',
      errorKind: 'http_429',
    });
    nock(BASE).post(`/send/${message.id}`).reply(401, { message: 'bad token' });
    expect(await failure(gateway.send(message, soon()))).toMatchObject({
      kind: 'permanent',
      errorKind: 'http_4xx',
      status: 401,
    });
  });

  it('when the API is slower than the deadline, then the request is abandoned as a timeout (or deadline at ends_at)', async () => {
    nock(BASE).post(`/send/${message.id}`).delay(1_000).reply(200, { code: 0, message: 'OK' });
    expect(await failure(gateway.send(message, soon(150)))).toMatchObject({
      kind: 'transient',
      errorKind: 'timeout',
    });
    nock(BASE).post(`/send/${message.id}`).delay(1_000).reply(200, { code: 0, message: 'OK' });
    const end = { deadline: new Date(Date.now() + 100), deadlineIsEnd: true };
    expect(await failure(gateway.send(message, end))).toMatchObject({ errorKind: 'deadline' });
    expect(
      await failure(gateway.send(message, { deadline: new Date(Date.now() - 1), deadlineIsEnd: true })),
    ).toMatchObject({
      errorKind: 'deadline',
    });
  });

  it('when the connection fails, then it is transient', async () => {
    nock(BASE).post(`/send/${message.id}`).replyWithError('ECONNRESET');
    expect(await failure(gateway.send(message, soon()))).toMatchObject({
      kind: 'transient',
      errorKind: 'connection',
    });
  });

  it('when the token is a JWT, then its exp is read (for the 7-day warning)', () => {
    expect(jwtExpiry(TOKEN)).toEqual(new Date(2_000_000_000 * 1000));
    expect(jwtExpiry('not-a-jwt')).toBeUndefined();
  });
});
