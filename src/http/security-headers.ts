import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

const ROUTE_MIDDLEWARE = Symbol('securityHeadersMiddleware');

type Middleware = (req: unknown, res: unknown, next: (error?: unknown) => void) => void;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * This route's security headers instead of the server's: helmet options merged over the
     * server's (e.g. a page's own Content-Security-Policy), or `false` for none.
     */
    securityHeaders?: HelmetOptions | false;
  }
}

/**
 * Security headers on every answer from `helmet`, with each configuration's middleware built once:
 * @fastify/helmet rebuilt helmet's middleware on every request, 8% of the web process's CPU per
 * accepted message in bench:delivery. A route may override the server's options through
 * `config: { securityHeaders }`; answers without a route (404s) get the server's.
 */
export const securityHeaders = fp<HelmetOptions>(
  async (server: FastifyInstance, options: HelmetOptions) => {
    const serverWide = helmet(options) as Middleware;
    // Built when the route is added and carried in its config (Fastify copies the config object).
    server.addHook('onRoute', (route) => {
      const own = route.config?.securityHeaders;
      if (own === undefined || !route.config) return;
      (route.config as unknown as Record<symbol, unknown>)[ROUTE_MIDDLEWARE] =
        own === false ? false : (helmet({ ...options, ...own } as HelmetOptions) as Middleware);
    });
    server.addHook(
      'onRequest',
      (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
        const own = (
          request.routeOptions.config as unknown as Record<symbol, Middleware | false | undefined>
        )[ROUTE_MIDDLEWARE];
        if (own === false) return done();
        (own ?? serverWide)(request.raw, reply.raw, (error) => done(error as Error | undefined));
      },
    );
  },
  { name: 'briefly-security-headers' },
);
