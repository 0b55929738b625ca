import type { FastifyInstance } from 'fastify';
import nock from 'nock';
import { slackSignature } from '../../src/slack/signature.ts';
import { SIGNING_SECRET, SLACK_HOST } from './service.ts';

export interface SignedOptions {
  secret?: string;
  timestamp?: number;
  signature?: string;
}

/** Posts to /slack/events exactly as Slack does: raw body, v0 HMAC signature, timestamp header. */
export async function postSlack(
  server: FastifyInstance,
  body: string,
  contentType: string,
  options: SignedOptions = {},
) {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = options.signature ?? slackSignature(options.secret ?? SIGNING_SECRET, timestamp, body);
  return server.inject({
    method: 'POST',
    url: '/slack/events',
    headers: {
      'content-type': contentType,
      'x-slack-signature': signature,
      'x-slack-request-timestamp': timestamp,
    },
    payload: body,
  });
}

export function slashCommand(
  server: FastifyInstance,
  fields: { command: string; text?: string; user_id: string; channel_id?: string },
  options?: SignedOptions,
) {
  const form = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0001',
    team_domain: 'acme',
    channel_id: fields.channel_id ?? 'C0CHANNEL1',
    channel_name: 'sales',
    user_id: fields.user_id,
    user_name: 'someone',
    command: fields.command,
    text: fields.text ?? '',
    api_app_id: 'A0APP',
    is_enterprise_install: 'false',
    response_url: `${SLACK_HOST}/commands/T0001/1/response`,
    trigger_id: '1234.5678.trigger',
  });
  return postSlack(server, form.toString(), 'application/x-www-form-urlencoded', options);
}

export function interaction(
  server: FastifyInstance,
  payload: Record<string, unknown>,
  options?: SignedOptions,
) {
  const form = new URLSearchParams({ payload: JSON.stringify(payload) });
  return postSlack(server, form.toString(), 'application/x-www-form-urlencoded', options);
}

export function event(server: FastifyInstance, inner: Record<string, unknown>) {
  const body = JSON.stringify({
    token: 'x',
    team_id: 'T0001',
    api_app_id: 'A0APP',
    type: 'event_callback',
    event_id: `Ev${Date.now()}`,
    event_time: Math.floor(Date.now() / 1000),
    event: inner,
  });
  return postSlack(server, body, 'application/json');
}

/** Fakes one Slack Web API method, capturing the form/JSON body Bolt sends. */
export function slackApi(method: string, reply: Record<string, unknown> = { ok: true }) {
  const captured: Record<string, unknown>[] = [];
  const scope = nock(SLACK_HOST)
    .post(`/api/${method}`, (body) => {
      captured.push(decodeSlackBody(body));
      return true;
    })
    .reply(200, reply);
  return { scope, captured };
}

/** The Web API client sends form-encoded bodies with JSON-encoded nested values. */
export function decodeSlackBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) {
    return Object.fromEntries(new URLSearchParams(String(body)));
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string' && (value.startsWith('{') || value.startsWith('['))) {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        // keep the string
      }
    }
    out[key] = value;
  }
  return out;
}

export function viewSubmission(
  user: string,
  view: { callback_id: string; private_metadata?: string; values: Record<string, Record<string, unknown>> },
) {
  return {
    type: 'view_submission',
    team: { id: 'T0001', domain: 'acme' },
    user: { id: user, username: 'someone', name: 'someone', team_id: 'T0001' },
    api_app_id: 'A0APP',
    token: 'x',
    trigger_id: '1234.5678.trigger',
    view: {
      id: 'V0VIEW',
      team_id: 'T0001',
      type: 'modal',
      callback_id: view.callback_id,
      private_metadata: view.private_metadata ?? '',
      hash: '1.abc',
      state: { values: view.values },
      blocks: [],
    },
    response_urls: [],
    is_enterprise_install: false,
  };
}

export function blockAction(
  user: string,
  action: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    type: 'block_actions',
    user: { id: user, username: 'someone', name: 'someone', team_id: 'T0001' },
    api_app_id: 'A0APP',
    token: 'x',
    container: { type: 'message', message_ts: '1.2', channel_id: 'C0CHANNEL1', is_ephemeral: true },
    trigger_id: '1234.5678.trigger',
    team: { id: 'T0001', domain: 'acme' },
    channel: { id: 'C0CHANNEL1', name: 'sales' },
    response_url: `${SLACK_HOST}/actions/T0001/1/response`,
    actions: [
      { type: 'button', block_id: 'b', action_ts: '1.2', text: { type: 'plain_text', text: 'x' }, ...action },
    ],
    ...extra,
  };
}

/** Bolt resolves its bot identity with auth.test on the first event (then caches it). */
export function fakeAuthTest(): void {
  nock(SLACK_HOST)
    .persist()
    .post('/api/auth.test')
    .reply(200, { ok: true, user_id: 'UBOT000001', bot_id: 'B0BOT00001', team_id: 'T0001', user: 'briefly' });
}

export interface SlackCall {
  method: string;
  body: Record<string, unknown>;
  at: number;
}

export type SlackAnswer = {
  status?: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
};

/**
 * Fakes the whole Slack Web API: every call is recorded (method and decoded body) and answered by
 * `answer` (default: `{ ok: true }` plus a fresh ts for chat.postMessage). auth.test answers as Bolt
 * expects. Lasts until nock.cleanAll().
 */
export function fakeSlackApi(
  answer: (call: SlackCall) => SlackAnswer | undefined = () => undefined,
): SlackCall[] {
  const calls: SlackCall[] = [];
  let ts = 1000;
  nock(SLACK_HOST)
    .persist()
    .post(/^\/api\/[\w.]+$/)
    .reply((uri, body) => {
      const call = { method: uri.replace('/api/', ''), body: decodeSlackBody(body), at: Date.now() };
      if (call.method === 'auth.test') {
        return [
          200,
          { ok: true, user_id: 'UBOT000001', bot_id: 'B0BOT00001', team_id: 'T0001', user: 'briefly' },
        ];
      }
      calls.push(call);
      const given = answer(call);
      if (given) return [given.status ?? 200, given.body, given.headers ?? {}];
      if (call.method === 'chat.postMessage') {
        ts += 1;
        const channel = String(call.body.channel ?? '');
        return [
          200,
          {
            ok: true,
            channel: channel.startsWith('U') ? `D${channel.slice(1)}` : channel,
            ts: `${ts}.000100`,
          },
        ];
      }
      return [200, { ok: true }];
    });
  return calls;
}
