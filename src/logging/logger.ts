import winston from 'winston';

export type Logger = winston.Logger;

/** Correlation fields a child logger may carry; keep names stable, dashboards filter on them. */
export interface LogContext {
  role?: string;
  rep_id?: string;
  message_id?: string;
  mailout_id?: string;
  customer_id?: string;
  job_id?: string;
  queue?: string;
  slack_user?: string;
  [key: string]: unknown;
}

/**
 * Drizzle's DrizzleQueryError message is "Failed query: <sql>\nparams: <values>": the values are
 * people's emails and names, so only the statement (and PostgreSQL's error code) is ever logged.
 */
const QUERY_PARAMS = /(Failed query: [\s\S]*?)\nparams: [\s\S]*$/;

export function withoutQueryParams(message: string): string {
  return message.replace(QUERY_PARAMS, '$1');
}

/** What to log about an error: its message without query parameters, and a database error code. */
export function describeError(error: unknown): { error: string; code?: string } {
  if (!(error instanceof Error)) return { error: withoutQueryParams(String(error)) };
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = (error as { code?: unknown }).code ?? cause?.code;
  return {
    error: withoutQueryParams(error.message),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

const SECRET_KEY = /(token|secret|password|authorization|api[_-]?key|cookie|signature|private[_-]?key)/i;
const REDACTED = '[redacted]';

/**
 * Masks secrets twice: by field name (anything that looks like a token/secret/password key) and by
 * value (every configured secret string, wherever it appears in a message or nested field).
 */
export function redactor(secrets: string[]) {
  const needles = secrets.filter((s) => s.length >= 4);
  const scrub = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      let out = value;
      for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
      return withoutQueryParams(out).replace(/\b(xox[abpr]-|xapp-)[A-Za-z0-9-]+/g, `$1${REDACTED}`);
    }
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) {
      const { code } = describeError(value);
      return { name: value.name, message: scrub(value.message, depth + 1), ...(code ? { code } : {}) };
    }
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : scrub(v, depth + 1);
    return out;
  };
  return winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === 'level') continue;
      info[key] = SECRET_KEY.test(key) ? REDACTED : scrub(info[key], 0);
    }
    return info;
  })();
}

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  secrets?: string[];
  /** Where lines go; defaults to stdout. Tests pass a stream to assert on what was written. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = [
    winston.format.errors({ stack: false }),
    redactor(options.secrets ?? []),
    winston.format.timestamp(),
  ];
  const format =
    options.format === 'json'
      ? winston.format.combine(...base, winston.format.json())
      : winston.format.combine(
          ...base,
          winston.format.colorize(),
          winston.format.printf(({ level, message, timestamp, ...rest }) => {
            const fields = Object.entries(rest)
              .filter(([k]) => typeof k === 'string')
              .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(' ');
            return `${timestamp} ${level} ${message}${fields ? ` ${fields}` : ''}`;
          }),
        );
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  return winston.createLogger({ level: options.level, format, transports: [transport] });
}
