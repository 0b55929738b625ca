/**
 * One capability: hand one short text message to an external send API. Adapters classify every
 * failure with the same kinds as the email providers: transient (retry later with the same id),
 * permanent (retrying cannot help). The id is ours (mailout_messages.id) and the vendor is keyed
 * by it, so a retry after a timeout cannot make a second message.
 */
export interface OutgoingSms {
  id: number;
  /** 11 digits, 7XXXXXXXXXX. */
  phone: string;
  text: string;
}

export type SmsFailureKind = 'transient' | 'permanent';

/** Why a transient failure happened; also the `kind` label of the errors metric. */
export type SmsErrorKind =
  | 'timeout'
  | 'deadline'
  | 'connection'
  | 'http_5xx'
  | 'http_429'
  | 'garbage'
  | 'http_4xx';

export class SmsGatewayError extends Error {
  constructor(
    readonly kind: SmsFailureKind,
    readonly errorKind: SmsErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SmsGatewayError';
  }
}

export interface SmsSendOptions {
  /** The request is abandoned at this instant (the earlier of the timeout and the mailout's ends_at). */
  deadline: Date;
  /** When the deadline is the mailout's end rather than the timeout (reported as `deadline`). */
  deadlineIsEnd: boolean;
}

export interface SmsGateway {
  readonly name: string;
  /** Resolves with the HTTP status when the vendor confirmed the message; throws SmsGatewayError. */
  send(message: OutgoingSms, options: SmsSendOptions): Promise<{ status: number }>;
  close(): Promise<void>;
}
