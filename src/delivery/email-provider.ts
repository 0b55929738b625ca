/**
 * One capability, one interface: send a fully rendered email. Adapters (SendGrid, SMTP, file
 * outbox) turn our message into the vendor's request and classify every failure as transient
 * (retry later, maybe on another provider) or permanent (retrying cannot help).
 */
export interface EmailAddress {
  email: string;
  name?: string;
}

export interface OutgoingEmail {
  /** Our message id (messages.id); travels to the provider as custom arg / header so webhooks map back. */
  messageId: string;
  from: EmailAddress;
  to: EmailAddress[];
  cc: EmailAddress[];
  bcc: EmailAddress[];
  replyTo?: EmailAddress;
  subject: string;
  html?: string;
  text?: string;
  /** Free-form labels; SendGrid gets them as categories (max 10). */
  tags: string[];
  /**
   * The Message-ID header the recipient sees ("<uuid@domain>", generated at accept time). SendGrid
   * gets it as headers["Message-ID"], SMTP and the file outbox as nodemailer's messageId.
   */
  messageIdHeader?: string;
  /** Extra headers from the allow-list (message-content.ts), e.g. List-Unsubscribe. */
  headers?: Record<string, string>;
  /** Attachments such as an .ics invitation or an inline chart. content is base64. */
  attachments?: OutgoingAttachment[];
}

export interface OutgoingAttachment {
  filename: string;
  /** May carry parameters: "text/calendar; method=REQUEST". */
  contentType: string;
  content: string;
  disposition?: 'attachment' | 'inline';
  /** Inline parts: the HTML refers to them as cid:<contentId>. */
  contentId?: string;
}

export interface SendResult {
  provider: string;
  /** The provider's id for the message (SendGrid X-Message-Id, SMTP Message-ID, file path). */
  providerMessageId?: string;
}

export type FailureKind = 'transient' | 'permanent';

export interface ProviderErrorDetails {
  status?: number;
  code?: string;
  retryAfterMs?: number;
  /**
   * The request reached the provider but its answer never came (a timeout or reset after the
   * whole request was written): the provider may have accepted the message. Always transient.
   */
  unknownOutcome?: boolean;
}

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly kind: FailureKind,
    message: string,
    readonly details: ProviderErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }

  get unknownOutcome(): boolean {
    return this.details.unknownOutcome === true;
  }
}

/**
 * Contract: `send` resolves only when the provider answered what its documentation calls
 * acceptance, validated (SendGrid: 202 with an X-Message-Id; SMTP: 250 to the end of DATA).
 * Anything else rejects with a ProviderError: an unexpected 2xx/3xx is transient, not success.
 */
export interface EmailProvider {
  readonly name: string;
  send(email: OutgoingEmail): Promise<SendResult>;
  /**
   * Checks that sending works now, as close to a real send as the vendor allows without
   * delivering anything (SendGrid: a sandbox-mode mail/send). Throws ProviderError.
   */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** nodemailer's address shape. */
export function toMailbox(address: EmailAddress): { name: string; address: string } {
  return { name: address.name ?? '', address: address.email };
}

/**
 * The nodemailer message for SMTP and the file outbox. The Message-ID is the one stored at accept
 * time (messages written before it existed fall back to one derived from our id), so a retried
 * send carries the same one and a receiver that dedupes on it drops the copy.
 */
export function toMimeMessage(email: OutgoingEmail) {
  return {
    messageId: email.messageIdHeader ?? `<${email.messageId}@briefly>`,
    from: toMailbox(email.from),
    to: email.to.map(toMailbox),
    cc: email.cc.map(toMailbox),
    bcc: email.bcc.map(toMailbox),
    replyTo: email.replyTo ? toMailbox(email.replyTo) : undefined,
    subject: email.subject,
    text: email.text,
    html: email.html,
    headers: { 'X-Briefly-Message-Id': email.messageId, ...email.headers },
    attachments: email.attachments?.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      encoding: 'base64' as const,
      contentDisposition: a.disposition ?? ('attachment' as const),
      ...(a.contentId ? { cid: a.contentId } : {}),
    })),
  };
}
