import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { SummarizedLog } from '../../src/logging/summarized-log.ts';

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk) => chunks.push(String(chunk)));
  const logger = createLogger({ level: 'info', format: 'json', stream });
  const lines = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  };
  return { logger, lines };
}

describe('summarized log', () => {
  it('when one subject warns many times, then the first is logged at once and the rest as one count', async () => {
    const { logger, lines } = capture();
    const log = new SummarizedLog(logger, 60_000);
    for (let i = 0; i < 500; i++)
      log.warn('request rejected', '/slack/events 10.0.0.1', { address: '10.0.0.1' });
    log.warn('request rejected', '/slack/events 10.0.0.2', { address: '10.0.0.2' });
    expect((await lines()).map((l) => [l.message, l.address])).toEqual([
      ['request rejected', '10.0.0.1'],
      ['request rejected', '10.0.0.2'],
    ]);
    log.flush();
    const after = await lines();
    expect(after).toHaveLength(3);
    expect(after[2]).toMatchObject({
      message: 'request rejected (repeated)',
      address: '10.0.0.1',
      repeated: 499,
    });
    // A new window logs the first occurrence again.
    log.warn('request rejected', '/slack/events 10.0.0.1', { address: '10.0.0.1' });
    expect(await lines()).toHaveLength(4);
    log.close();
  });

  it('when more subjects than the cap warn, then the rest share one counter', async () => {
    const { logger, lines } = capture();
    const log = new SummarizedLog(logger, 60_000, 3);
    for (let i = 0; i < 1_000; i++) log.warn('request rejected', `addr-${i}`);
    log.close();
    const all = await lines();
    expect(all).toHaveLength(4);
    expect(all[3]).toMatchObject({ message: 'more warnings from other subjects (not itemized)', count: 997 });
  });

  it('when the window ends, then the summary is written without being asked', async () => {
    const { logger, lines } = capture();
    const log = new SummarizedLog(logger, 50);
    log.warn('rate limited', 'k');
    log.warn('rate limited', 'k');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect((await lines()).map((l) => l.message)).toEqual(['rate limited', 'rate limited (repeated)']);
    log.close();
  });
});
