import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
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

/**
 * A bare SMTP dialogue on loopback whose reply to the end of DATA the test chooses: a server (or
 * something pretending to be one) that answers a 2xx other than 250, or never answers at all.
 */
async function startScriptedSmtp(
  endOfData: string | 'hang',
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    socket.write('220 scripted ESMTP\r\n');
    let inData = false;
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (inData) {
        if (!buffer.includes('\r\n.\r\n')) return;
        inData = false;
        buffer = '';
        if (endOfData !== 'hang') socket.write(`${endOfData}\r\n`);
        return;
      }
      let index = buffer.indexOf('\r\n');
      while (index >= 0) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 scripted\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
          return;
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
        index = buffer.indexOf('\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

describe('SmtpEmailProvider against a scripted server', () => {
  it('when the end of DATA is answered with a 2xx other than 250, then it is a transient failure, not a send', async () => {
    const scripted = await startScriptedSmtp('299 sure, whatever');
    const odd = new SmtpEmailProvider({ url: scripted.url, timeoutMs: 2_000 });
    try {
      const error = await failure(odd.send(email()));
      expect(error.kind).toBe('transient');
      expect(error.details.code).toBe('unexpected_answer');
      expect(error.message).toContain('299 sure, whatever');
    } finally {
      await odd.close();
      await scripted.close();
    }
  });

  it('when the end of DATA is never answered, then the outcome is unknown', async () => {
    const scripted = await startScriptedSmtp('hang');
    const silent = new SmtpEmailProvider({ url: scripted.url, timeoutMs: 500 });
    try {
      const error = await failure(silent.send(email()));
      expect(error.kind).toBe('transient');
      expect(error.unknownOutcome).toBe(true);
    } finally {
      await silent.close();
      await scripted.close();
    }
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
