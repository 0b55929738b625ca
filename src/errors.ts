/**
 * The one error type the application raises on purpose. `code` is stable and machine-readable,
 * `status` maps it onto HTTP, `retryable` tells jobs whether another attempt may succeed.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'vendor_error'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  vendor_error: 502,
  unavailable: 503,
};

export interface FieldProblem {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly fields: FieldProblem[];
  /** For rate_limited: when the caller may try again (sent as Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      retryable?: boolean;
      cause?: unknown;
      fields?: FieldProblem[];
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? (code === 'unavailable' || code === 'rate_limited');
    this.fields = options.fields ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return STATUS[this.code];
  }

  static validation(fields: FieldProblem[]): AppError {
    const summary = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
    return new AppError('validation_failed', `Invalid input: ${summary}`, { fields });
  }

  static notFound(what: string, id: string): AppError {
    return new AppError('not_found', `${what} ${id} was not found`);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** Turns a zod error into field problems with dotted paths ("to.0", "send_at"). */
export function zodFields(issues: { path: PropertyKey[]; message: string }[]): FieldProblem[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
}
