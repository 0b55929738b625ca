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

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  record: 'an object',
};

/**
 * zod's default wrong-type message ("Invalid input: expected string, received number") in our
 * words: "is required" when the field is missing, "must be a string" when it has another type.
 */
function typeMessage(issue: { code?: string; expected?: unknown; message: string }): string {
  if (issue.code !== 'invalid_type' || !issue.message.startsWith('Invalid input: expected'))
    return issue.message;
  if (/received undefined$/.test(issue.message)) return 'is required';
  const expected = TYPE_NAMES[String(issue.expected)];
  return expected ? `must be ${expected}` : issue.message;
}

/** Turns a zod error into field problems with dotted paths ("to.0", "send_at"). */
export function zodFields(
  issues: { path: PropertyKey[]; message: string; code?: string; expected?: unknown }[],
): FieldProblem[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    message: typeMessage(issue),
  }));
}
