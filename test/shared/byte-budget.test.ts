import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/shared/byte-budget.ts';

const settled = async <T>(promise: Promise<T>) => {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('ByteBudget', () => {
  it('when requests fit, then they are granted at once; beyond the limit they wait for a release', async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(60);
    const b = budget.acquire(60);
    expect(await settled(b)).toBe(false);
    expect(budget.inUse).toBe(60);
    a();
    const releaseB = await b;
    expect(budget.inUse).toBe(60);
    releaseB();
    releaseB();
    expect(budget.inUse).toBe(0);
  });

  it('when a large request waits, then smaller ones behind it wait too (first come, first served)', async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(50);
    const big = budget.acquire(80);
    const small = budget.acquire(10);
    expect(await settled(small)).toBe(false);
    a();
    const releaseBig = await big;
    const releaseSmall = await small;
    expect(budget.inUse).toBe(90);
    releaseBig();
    releaseSmall();
  });

  it('when a request is larger than the whole budget, then it is granted alone once nothing else is held', async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(10);
    const huge = budget.acquire(10_000);
    expect(await settled(huge)).toBe(false);
    a();
    const release = await huge;
    expect(budget.inUse).toBe(100);
    const next = budget.acquire(1);
    expect(await settled(next)).toBe(false);
    release();
    (await next)();
    expect(budget.inUse).toBe(0);
  });

  it('when a waiting request is aborted, then it rejects, holds nothing, and the one behind it goes ahead', async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(30);
    const controller = new AbortController();
    const blocked = budget.acquire(90, controller.signal);
    const behind = budget.acquire(50);
    expect(await settled(behind)).toBe(false);
    controller.abort(new Error('claim lost'));
    await expect(blocked).rejects.toThrow('claim lost');
    const releaseBehind = await behind;
    expect(budget.inUse).toBe(80);
    a();
    releaseBehind();
    expect(budget.inUse).toBe(0);
  });
});
