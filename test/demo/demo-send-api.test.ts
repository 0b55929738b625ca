import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PHONE_PREFIX, DemoRoutingGateway, DemoSendApi } from '../../src/demo/demo-send-api.ts';
import type { OutgoingSms, SmsGateway } from '../../src/mailouts/providers/sms-gateway.ts';

const api = new DemoSendApi();
let url: string;
beforeAll(async () => {
  url = await api.start();
});
afterAll(async () => api.stop());

const options = () => ({ deadline: new Date(Date.now() + 5_000), deadlineIsEnd: false });
const demoSms: OutgoingSms = { id: 1, phone: `${DEMO_PHONE_PREFIX}01`, text: 'hi' };
const realSms: OutgoingSms = { id: 2, phone: '79161234567', text: 'hello' };

describe('the demo send API and the demo worker gateway', () => {
  it('when a demo customer is texted, then the local fake answers like the send API and records it', async () => {
    const gateway = new DemoRoutingGateway(url, undefined);
    await expect(gateway.send(demoSms, options())).resolves.toEqual({ status: 200 });
    expect(api.received).toContainEqual({ id: 1, phone: Number(demoSms.phone), text: 'hi' });
    await gateway.close();
  });

  it('when another mailout reaches the demo worker, then it goes to the configured send API, never to the fake', async () => {
    const calls: OutgoingSms[] = [];
    const real: SmsGateway = {
      name: 'send-api',
      send: async (message) => {
        calls.push(message);
        return { status: 200 };
      },
      close: async () => undefined,
    };
    const before = api.received.length;
    await new DemoRoutingGateway(url, real).send(realSms, options());
    expect(calls).toEqual([realSms]);
    expect(api.received).toHaveLength(before);
  });

  it("when there is no configured send API, then another mailout's message fails transiently (it waits for a real worker)", async () => {
    await expect(new DemoRoutingGateway(url, undefined).send(realSms, options())).rejects.toMatchObject({
      kind: 'transient',
      message: /SEND_API_TOKEN is not set/,
    });
  });
});
