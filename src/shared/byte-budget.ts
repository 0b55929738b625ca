/**
 * A weighted semaphore over bytes: at most `limit` bytes are held at once, and waiters are served
 * in arrival order (a large request is not starved by smaller ones behind it). A request larger
 * than the whole budget is granted alone, once nothing else is held, so it is never refused.
 */
export class ByteBudget {
  private held = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Bytes held right now (for metrics and tests). */
  get inUse(): number {
    return this.held;
  }

  /**
   * Resolves with a release function once `bytes` fit; rejects with the signal's reason if it
   * aborts first (nothing is then held). Call the release function exactly once.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const want = Math.min(Math.max(0, bytes), this.limit);
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && this.fits(want)) return Promise.resolve(this.take(want));
    return new Promise((resolve, reject) => {
      const waiter = {
        bytes: want,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take(want));
        },
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason);
        // The head of the queue may fit now that this one no longer waits in front of it.
        this.drain();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }

  private take(bytes: number): () => void {
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
      this.drain();
    };
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]?.bytes ?? 0)) {
      this.waiting.shift()?.grant();
    }
  }
}
