import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACKS, COMMANDS } from '../blocks/ids.ts';
import { ROOT } from './helpers/cli.ts';
import { startTestService, type TestService } from './helpers/service.ts';
import { fakeAuthTest, slashCommand } from './helpers/slack.ts';

const manifest = JSON.parse(readFileSync(`${ROOT}/manifest.json`, 'utf8'));
const schema = JSON.parse(readFileSync(`${ROOT}/test/fixtures/slack/manifest.schema.1.0.0.json`, 'utf8'));

describe('manifest.json', () => {
  it("when validated against Slack's manifest schema 1.0.0, then it is valid", () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    const validate = ajv.compile(schema);
    const valid = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('when a broken manifest is validated, then the schema rejects it (the check can fail)', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    const broken = structuredClone(manifest);
    broken.features.slash_commands[0].command = 'briefly';
    broken.features.foo = true;
    expect(ajv.compile(schema)(broken)).toBe(false);
  });

  it('when compared with the code, then the commands are exactly the ones the code handles', () => {
    const commands = manifest.features.slash_commands.map((c: { command: string }) => c.command).sort();
    expect(commands).toEqual(Object.values(COMMANDS).sort());
    // No shortcuts are declared, so no callback ids live in the manifest; modal callbacks are ours alone.
    expect(manifest.features.shortcuts ?? []).toEqual([]);
    expect(Object.values(CALLBACKS).length).toBeGreaterThan(0);
  });

  it('when compared with the Slack calls the code makes, then every scope they need is declared', () => {
    // chat.postMessage/update, DMs by user id, conversations.info (public and private), conversations.join.
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        'chat:write',
        'im:write',
        'channels:read',
        'groups:read',
        'channels:join',
        'files:write',
      ]),
    );
  });

  it('when compared with the code, then the events the manifest subscribes to are handled', () => {
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['app_home_opened']);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });
});

describe('every manifest command has a live handler', () => {
  let svc: TestService;
  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    fakeAuthTest();
    svc = await startTestService();
  });
  afterAll(async () => {
    nock.cleanAll();
    nock.enableNetConnect();
    await svc.close();
  });

  it('when each command is sent, then a handler answers with a message', async () => {
    for (const { command } of manifest.features.slash_commands as { command: string }[]) {
      const res = await slashCommand(svc.web, { command, user_id: 'UNOBODY001' });
      expect(res.statusCode, command).toBe(200);
      expect(res.json().response_type, command).toBe('ephemeral');
    }
  });
});
