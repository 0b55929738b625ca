/**
 * Collects calls made in the same tick (up to `maxSize`) and runs them as one batch, so many
 * concurrent requests share one database statement or one Redis round trip. Each caller gets its
 * own result; if the batch fails, every caller in it gets the error.
 *
 * With `maxInFlight`, at most that many batches run at once; calls made meanwhile wait for the
 * next free slot and go together. Under load that makes batches larger (one commit for many
 * rows instead of many small commits competing for the same pool); when idle, a call still runs
 * on the next tick.
 */
export class MicroBatcher<T, R> {
  private pending: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly maxSize = 200,
    private readonly maxInFlight = Number.POSITIVE_INFINITY,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.slice(0, this.maxSize);
      this.pending = this.pending.slice(batch.length);
      this.inFlight++;
      this.run(batch.map((entry) => entry.item))
        .then(
          (results) => {
            batch.forEach((entry, index) => {
              entry.resolve(results[index] as R);
            });
          },
          (error: unknown) => {
            for (const entry of batch) entry.reject(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          // What queued up while every slot was busy goes as soon as one frees.
          if (this.pending.length > 0) this.schedule();
        });
    }
  }
}
