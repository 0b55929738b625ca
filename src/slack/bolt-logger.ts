import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../logging/logger.ts';

const TO_WINSTON: Record<LogLevel, string> = {
  [LogLevel.DEBUG]: 'debug',
  [LogLevel.INFO]: 'info',
  [LogLevel.WARN]: 'warn',
  [LogLevel.ERROR]: 'error',
};

/** Bolt's logger interface on top of winston, so Bolt's lines get our format and secret redaction. */
export function boltLogger(logger: Logger): BoltLogger {
  let level = LogLevel.INFO;
  let child = logger.child({ component: 'bolt' });
  const write = (lvl: LogLevel, msg: unknown[]) =>
    child.log(TO_WINSTON[lvl], msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' '));
  return {
    debug: (...msg) => write(LogLevel.DEBUG, msg),
    info: (...msg) => write(LogLevel.INFO, msg),
    warn: (...msg) => write(LogLevel.WARN, msg),
    error: (...msg) => write(LogLevel.ERROR, msg),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: (name) => {
      child = logger.child({ component: name });
    },
  };
}
