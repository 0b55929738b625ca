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
  /** nodemailer: which timer fired (CONNECTION_TIMEOUT, GREETING_TIMEOUT, SOCKET_TIMEOUT). */
  timeoutType?: string;
}

/**
 * SMTP backup through a pooled nodemailer transport. Sent means what RFC 5321 §4.1.1.4 documents:
 * the server answered 250 to the end of DATA and accepted at least one recipient; any other reply
 * (nodemailer takes every 2xx) is transient. 4xx replies and connection errors are transient, 5xx
 * permanent. A socket timeout may fall after the server got the message: unknown outcome. The
 * Message-ID is derived from our id, so a receiver that dedupes on it drops a retried copy.
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
    let info: { response?: string; accepted?: unknown[]; messageId: string };
    try {
      info = (await this.transporter.sendMail(toMimeMessage(email))) as typeof info;
    } catch (error) {
      throw this.classify(error, 'send');
    }
    const reply = String(info.response ?? '');
    if (/^250[ -]/.test(reply) && (info.accepted?.length ?? 0) > 0) {
      return { provider: this.name, providerMessageId: info.messageId };
    }
    throw new ProviderError(
      this.name,
      'transient',
      `SMTP send not accepted: the server answered "${reply.slice(0, 200)}" instead of 250 (${info.accepted?.length ?? 0} recipients accepted)`,
      { code: 'unexpected_answer' },
    );
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
    const unknownOutcome =
      what === 'send' && error.code === 'ETIMEDOUT' && error.timeoutType === 'SOCKET_TIMEOUT';
    return new ProviderError(
      this.name,
      kind,
      message,
      { code: error.code, status: code, ...(unknownOutcome ? { unknownOutcome } : {}) },
      { cause: caught },
    );
  }
}
