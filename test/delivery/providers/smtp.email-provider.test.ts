import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OutgoingEmail, ProviderError } from '../../../src/delivery/email-provider.ts';
import { FileOutboxEmailProvider } from '../../../src/delivery/providers/file-outbox.email-provider.ts';
import { SmtpEmailProvider } from '../../../src/delivery/providers/smtp.email-provider.ts';
import { startSmtpServer } from '../../helpers/smtp.ts';

const email = (to = 'ana@client.test'): OutgoingEmail => ({
  messageId: '5f0c1a52-1111-4222-8333-444455556666',
  from: { email: 'briefly@acme.test', name: 'Briefly' },
  to: [{ email: to, name: 'Ana' }],
  cc: [],
  bcc: [],
  subject: 'Meeting notes',
  text: 'Plain body',
  html: '<p>Html body</p>',
  tags: [],
});

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let provider: SmtpEmailProvider;
beforeAll(async () => {
  smtp = await startSmtpServer();
  provider = new SmtpEmailProvider({ url: smtp.url, timeoutMs: 2_000 });
});
afterAll(async () => {
  await provider.close();
  await smtp.close();
});

describe('SmtpEmailProvider', () => {
  it('when the server accepts, then the message arrives with our id header and Message-ID', async () => {
    const result = await provider.send(email());
    expect(result.provider).toBe('smtp');
    expect(result.providerMessageId).toBe('<5f0c1a52-1111-4222-8333-444455556666@briefly>');
    const received = smtp.received.at(-1);
    expect(received?.to).toEqual(['ana@client.test']);
    expect(received?.raw).toMatch(/^X-Briefly-Message-Id: 5f0c1a52-1111-4222-8333-444455556666$/im);
    expect(received?.raw).toContain('Subject: Meeting notes');
  });

  it('when the server answers 4xx, then the failure is transient', async () => {
    const error = await failure(provider.send(email('temp@client.test')));
    expect(error.kind).toBe('transient');
    expect(error.details.status).toBe(450);
  });

  it('when the server answers 5xx, then the failure is permanent and quotes the reply', async () => {
    const error = await failure(provider.send(email('perm@client.test')));
    expect(error.kind).toBe('permanent');
    expect(error.message).toContain('No such user here');
  });

  it('when nothing listens on the port, then sending and probing fail transiently', async () => {
    const closed = new SmtpEmailProvider({ url: 'smtp://127.0.0.1:9', timeoutMs: 1_000 });
    try {
      expect((await failure(closed.send(email()))).kind).toBe('transient');
      expect((await failure(closed.probe())).kind).toBe('transient');
    } finally {
      await closed.close();
    }
  });

  it('when probed against a live server, then it passes', async () => {
    await expect(provider.probe()).resolves.toBeUndefined();
  });
});

describe('FileOutboxEmailProvider', () => {
  it('when sending, then an .eml a mail client can open is written to the folder', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'nested');
    const outbox = new FileOutboxEmailProvider({ dir });
    await outbox.probe();
    const result = await outbox.send(email());
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-5f0c1a52-1111-4222-8333-444455556666\.eml$/);
    expect(result.providerMessageId).toBe(join(dir, files[0] ?? ''));
    const eml = await readFile(join(dir, files[0] ?? ''), 'utf8');
    expect(eml).toContain('To: Ana <ana@client.test>');
    expect(eml).toContain('Subject: Meeting notes');
    expect(eml).toContain('Html body');
  });
});
