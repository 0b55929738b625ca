import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestService } from '../helpers/service.ts';

/** Worker and scheduler pods are probed and scraped on METRICS_PORT (deploy/k8s). */
describe('the metrics listener of a worker started by `briefly start`', () => {
  it('when a worker runs on its own, then METRICS_PORT serves /metrics, /healthz and /readyz', async () => {
    const svc = await startTestService({}, 'worker', { processWide: true });
    try {
      expect(svc.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const base = (svc.metricsUrl as string).replace(/\/metrics$/, '');
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# HELP /m);
      const health = await fetch(`${base}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await fetch(`${base}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it.each(['worker', 'web'] as const)(
    'when its port is taken (a second process on one host), then the %s still runs, without the listener, and says why',
    async (role) => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as AddressInfo).port;
      const svc = await startTestService({ METRICS_PORT: String(port), LOG_LEVEL: 'warn' }, role, {
        processWide: true,
      });
      try {
        expect(svc.metricsUrl).toBeUndefined();
        if (role === 'web') expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
        expect(svc.log.lines().some((l) => l.includes('/metrics is not served by this process'))).toBe(true);
      } finally {
        await svc.close();
        blocker.close();
      }
    },
    60_000,
  );

  it('when a worker is started by a one-off command (demo, send), then it opens no listener', async () => {
    const svc = await startTestService({}, 'worker');
    try {
      expect(svc.metricsUrl).toBeUndefined();
    } finally {
      await svc.close();
    }
  }, 60_000);
});
