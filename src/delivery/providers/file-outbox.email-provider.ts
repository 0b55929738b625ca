import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import nodemailer from 'nodemailer';
import {
  type EmailProvider,
  type OutgoingEmail,
  ProviderError,
  type SendResult,
  toMimeMessage,
} from '../email-provider.ts';

/**
 * Development only (config refuses it in production): each message becomes an .eml file a person
 * can open in any mail client, so `npm start` on a fresh machine delivers somewhere visible.
 */
export class FileOutboxEmailProvider implements EmailProvider {
  readonly name = 'file-outbox';
  private readonly dir: string;
  private readonly composer = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
  });

  constructor(options: { dir: string }) {
    this.dir = resolve(options.dir);
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    try {
      const info = await this.composer.sendMail(toMimeMessage(email));
      await mkdir(this.dir, { recursive: true });
      const file = resolve(
        this.dir,
        `${new Date().toISOString().replace(/[:.]/g, '-')}-${email.messageId}.eml`,
      );
      await writeFile(file, info.message as Buffer);
      return { provider: this.name, providerMessageId: file };
    } catch (error) {
      throw new ProviderError(
        this.name,
        'transient',
        `file outbox: ${(error as Error).message}`,
        {},
        { cause: error },
      );
    }
  }

  async probe(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      await access(this.dir, constants.W_OK);
    } catch (error) {
      throw new ProviderError(
        this.name,
        'transient',
        `file outbox not writable: ${(error as Error).message}`,
      );
    }
  }

  async close(): Promise<void> {}
}
