import type { Logger } from './logger.ts';

/**
 * Warnings that anyone on the internet can trigger (bad API keys, forged Slack requests, unsigned
 * webhooks, rate-limited callers) or that repeat for every request during an outage: the first
 * occurrence of each subject is logged at once, the rest are counted and written as one summary
 * line per subject when the window ends. So a flood costs at most two lines per subject per
 * window, and subjects beyond `maxSubjects` in one window share a single counter.
 */
export class SummarizedLog {
  private readonly entries = new Map<
    string,
    { message: string; fields: Record<string, unknown>; count: number }
  >();
  private overflow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 60_000,
    private readonly maxSubjects = 1_000,
  ) {}

  warn(message: string, subject: string, fields: Record<string, unknown> = {}): void {
    const id = `${message}\u0000${subject}`;
    const entry = this.entries.get(id);
    if (entry) {
      entry.count++;
      return;
    }
    if (this.entries.size >= this.maxSubjects) {
      this.overflow++;
      return;
    }
    this.entries.set(id, { message, fields, count: 0 });
    this.logger.warn(message, { ...fields, summarized_for_s: this.windowMs / 1000 });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      this.timer.unref();
    }
  }

  /** Writes the summaries of the current window and starts a new one. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const seconds = this.windowMs / 1000;
    for (const entry of this.entries.values()) {
      if (entry.count > 0)
        this.logger.warn(`${entry.message} (repeated)`, {
          ...entry.fields,
          repeated: entry.count,
          window_s: seconds,
        });
    }
    if (this.overflow > 0)
      this.logger.warn('more warnings from other subjects (not itemized)', {
        count: this.overflow,
        window_s: seconds,
      });
    this.entries.clear();
    this.overflow = 0;
  }

  close(): void {
    this.flush();
  }
}
