import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import {
  type EmailProvider,
  type OutgoingEmail,
  ProviderError,
  type SendResult,
  toMimeMessage,
} from '../email-provider.ts';

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
  response?: string;
}

/**
 * SMTP backup through a pooled nodemailer transport. 4xx replies and connection errors are
 * transient, 5xx permanent. The Message-ID is derived from our id, so a receiver that dedupes
 * on it drops the copy a retried send may produce.
 */
export class SmtpEmailProvider implements EmailProvider {
  readonly name = 'smtp';
  private readonly transporter: Transporter;

  constructor(options: { url: string; timeoutMs: number }) {
    const pool: SMTPPool.Options = {
      url: options.url,
      pool: true,
      maxConnections: 5,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    };
    this.transporter = nodemailer.createTransport(pool);
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    try {
      const info = await this.transporter.sendMail(toMimeMessage(email));
      return { provider: this.name, providerMessageId: info.messageId };
    } catch (error) {
      throw this.classify(error, 'send');
    }
  }

  async probe(): Promise<void> {
    try {
      await this.transporter.verify();
    } catch (error) {
      throw this.classify(error, 'verify');
    }
  }

  async close(): Promise<void> {
    this.transporter.close();
  }

  private classify(caught: unknown, what: string): ProviderError {
    const error = caught as SmtpError;
    const code = error.responseCode;
    // nodemailer's messages quote the server reply, never the password in SMTP_URL.
    const message = `SMTP ${what} failed: ${(error.response ?? error.message ?? String(caught)).slice(0, 300)}`;
    // EAUTH: our credentials are wrong; EENVELOPE without a server reply: nodemailer found no valid
    // sender or recipient before talking to the server. Retrying cannot help either.
    if (error.code === 'EAUTH' || (error.code === 'EENVELOPE' && code === undefined)) {
      return new ProviderError(
        this.name,
        'permanent',
        message,
        { code: error.code, status: code },
        { cause: caught },
      );
    }
    const kind = code !== undefined && code >= 500 && code < 600 ? 'permanent' : 'transient';
    return new ProviderError(this.name, kind, message, { code: error.code, status: code }, { cause: caught });
  }
}
