import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/http/security-headers.ts';

describe('security headers (helmet, each configuration built once)', () => {
  const server = Fastify();

  beforeAll(async () => {
    await server.register(securityHeaders, {
      contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], upgradeInsecureRequests: null } },
    });
    server.get('/api', async () => ({ ok: true }));
    server.get(
      '/page',
      {
        config: {
          securityHeaders: {
            contentSecurityPolicy: { directives: { scriptSrc: ["'self'", 'https://cdn.test'] } },
          },
        },
      },
      async () => 'page',
    );
    server.get('/raw', { config: { securityHeaders: false } }, async () => 'raw');
    await server.ready();
  });
  afterAll(() => server.close());

  it('when a route has no options of its own, then it gets the server-wide headers', async () => {
    const res = await server.inject({ method: 'GET', url: '/api' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'self';/);
    expect(res.headers['content-security-policy']).not.toContain('cdn.test');
  });

  it('when a route overrides the policy, then its own policy is sent and the rest stays', async () => {
    const res = await server.inject({ method: 'GET', url: '/page' });
    expect(res.headers['content-security-policy']).toContain("script-src 'self' https://cdn.test");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('when a route turns them off, then none are sent', async () => {
    const res = await server.inject({ method: 'GET', url: '/raw' });
    expect(res.headers['x-content-type-options']).toBeUndefined();
    expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it('when no route matches, then the 404 still carries the headers', async () => {
    const res = await server.inject({ method: 'GET', url: '/nowhere' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});
