import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../src/shared/micro-batcher.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A batch runner whose batches finish only when the test says so. */
function controlled() {
  const batches: number[][] = [];
  const finish: (() => void)[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve) => {
      batches.push(items);
      finish.push(() => resolve(items.map((n) => n * 10)));
    });
  return { batches, finish, run };
}

describe('MicroBatcher', () => {
  it('when calls are made in the same tick, then they run as one batch and each caller gets its own result', async () => {
    const { batches, finish, run } = controlled();
    const batcher = new MicroBatcher(run, 100);
    const results = Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    await tick();
    expect(batches).toEqual([[1, 2, 3]]);
    finish[0]?.();
    expect(await results).toEqual([10, 20, 30]);
  });

  it('when as many batches as allowed are running, then later calls wait and go together in the next free slot', async () => {
    const { batches, finish, run } = controlled();
    const batcher = new MicroBatcher(run, 100, 1);
    const first = batcher.add(1);
    await tick();
    const later = [2, 3].map((n) => batcher.add(n));
    await tick();
    const evenLater = batcher.add(4);
    await tick();
    expect(batches).toEqual([[1]]);
    finish[0]?.();
    expect(await first).toBe(10);
    // The freed slot schedules the waiting calls for the next turn of the event loop.
    await tick();
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    finish[1]?.();
    expect(await Promise.all([...later, evenLater])).toEqual([20, 30, 40]);
  });

  it('when a batch fails, then every caller in it gets the error and the next batch still runs', async () => {
    let calls = 0;
    const batcher = new MicroBatcher(
      async (items: number[]) => {
        calls++;
        if (calls === 1) throw new Error('database gone');
        return items;
      },
      100,
      1,
    );
    const failed = [batcher.add(1), batcher.add(2)].map((p) => p.catch((error: Error) => error.message));
    expect(await Promise.all(failed)).toEqual(['database gone', 'database gone']);
    expect(await batcher.add(3)).toBe(3);
  });

  it('when more calls than maxSize arrive at once, then they are split into batches of at most maxSize', async () => {
    const sizes: number[] = [];
    const batcher = new MicroBatcher(async (items: number[]) => {
      sizes.push(items.length);
      return items;
    }, 2);
    expect(await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.add(n)))).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([2, 2, 1]);
  });
});
