import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createElement, type ReactElement } from 'react';
import { normalizePhone } from '../customers/customer.schemas.ts';
import type { CustomerService } from '../customers/customer.service.ts';
import { isAppError } from '../errors.ts';
import { describeError, type Logger } from '../logging/logger.ts';
import type { MailoutService } from '../mailouts/mailout.service.ts';
import { MAILOUT_MESSAGE_STATUSES, MAILOUT_STATUSES } from '../mailouts/mailout.tables.ts';
import type { SecretBox } from '../shared/crypto.ts';
import type { Clock } from '../shared/time.ts';
import {
  createInput,
  type FormBody,
  formValues,
  parseFormBody,
  updateInput,
  viewValues,
} from './admin-forms.ts';
import type { AdminSession, AdminSessionRepository } from './admin-session.repository.ts';
import { type OidcSignIn, SignInError, type SignInState } from './oidc-sign-in.ts';
import { CustomersPage } from './views/customers.page.tsx';
import { type PageUser, renderPage } from './views/layout.tsx';
import { MailoutPage } from './views/mailout.page.tsx';
import { MailoutFormPage, type MailoutFormValues } from './views/mailout-form.page.tsx';
import { MailoutListPage } from './views/mailout-list.page.tsx';
import { MessagePage, SignInPage } from './views/sign-in.page.tsx';

export const SESSION_COOKIE = 'briefly_admin';
export const SIGN_IN_COOKIE = 'briefly_admin_signin';

/**
 * Only our own script and style, no frames, forms only to ourselves. Sign-in is a link (not a form),
 * so the redirect to the issuer is not a form action.
 */
export const ADMIN_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ASSETS: Record<string, { type: string; body: string }> = {
  'admin.css': {
    type: 'text/css; charset=utf-8',
    body: readFileSync(new URL('./assets/admin.css', import.meta.url), 'utf8'),
  },
  'admin.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(new URL('./assets/admin.js', import.meta.url), 'utf8'),
  },
};

/** After a change the browser is redirected with one of these; only known words are shown. */
const NOTICES: Record<string, string> = {
  created: 'Mailout created.',
  saved: 'Changes saved.',
  submitted: 'Mailout submitted.',
  paused: 'Mailout paused: nothing more is sent until it is resumed.',
  resumed: 'Mailout resumed.',
  cancelled: 'Mailout cancelled.',
  approved: 'Mailout approved.',
  rejected: 'Mailout rejected.',
};

export interface AdminRouteDeps {
  signIn: OidcSignIn;
  sessions: AdminSessionRepository;
  /** Seals the sign-in state cookie. */
  box: SecretBox;
  mailouts: MailoutService;
  customers: CustomerService;
  /** "Slack" or the issuer's host name, on the sign-in button. */
  providerName: string;
  /** Cookies get `Secure` when PUBLIC_URL is https. */
  secureCookies: boolean;
  sessionHours: number;
  redirectUri: string;
  onSignIn: (session: { actor: string; issuer: string }) => Promise<void>;
  clock: Clock;
  logger: Logger;
}

export function cookies(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    try {
      out[name] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      // A cookie we did not write; ignore it.
    }
  }
  return out;
}

function cookie(
  name: string,
  value: string,
  options: { path: string; maxAge: number; secure: boolean },
): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    `Max-Age=${options.maxAge}`,
    'HttpOnly',
    // Lax: the issuer's redirect back is a cross-site top-level GET that must carry the sign-in cookie.
    'SameSite=Lax',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Where to go after signing in: only a page of ours, never another site. */
export function safeReturnTo(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  if (!/^\/admin(\/|$|\?)/.test(text) || /[\\\s]/.test(text) || text.startsWith('/admin/auth')) {
    return '/admin/mailouts';
  }
  return text;
}

const sameToken = (a: string, b: string) => {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a === b;
};

export function registerAdminRoutes(scope: FastifyInstance, deps: AdminRouteDeps): void {
  const log = deps.logger.child({ component: 'admin' });
  const sessions = new WeakMap<FastifyRequest, AdminSession>();
  const html = (reply: FastifyReply, status: number, page: ReactElement) =>
    reply.code(status).type('text/html; charset=utf-8').send(renderPage(page));
  const pageUser = (session: AdminSession): PageUser => ({
    name: session.name,
    timeZone: session.timeZone,
    csrfToken: session.csrfToken,
  });
  const sessionOf = (request: FastifyRequest): AdminSession => {
    const session = sessions.get(request);
    if (!session) throw new Error('admin route reached without a session');
    return session;
  };

  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, parseFormBody(String(body))),
  );
  scope.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', ADMIN_CSP);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  scope.setNotFoundHandler((_request, reply) =>
    html(
      reply,
      404,
      createElement(MessagePage, {
        title: 'Not found',
        message: 'There is no such page.',
        link: { href: '/admin/mailouts', label: 'Mailouts' },
      }),
    ),
  );
  scope.setErrorHandler((error, request, reply) => {
    const session = sessions.get(request);
    const user = session ? pageUser(session) : undefined;
    if (isAppError(error)) {
      return html(
        reply,
        error.status,
        createElement(MessagePage, { title: 'Not possible', message: error.message, user }),
      );
    }
    const { statusCode: status, message } = error as { statusCode?: number; message: string };
    if (status && status >= 400 && status < 500) {
      return html(reply, status, createElement(MessagePage, { title: 'Bad request', message, user }));
    }
    log.error('admin page failed', {
      route: request.routeOptions.url ?? 'unmatched',
      ...describeError(error),
    });
    return html(
      reply,
      500,
      createElement(MessagePage, {
        title: 'Something went wrong',
        message: 'The error was logged. Try again.',
        user,
      }),
    );
  });

  // ---- Public: assets and sign-in ----
  scope.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const asset = ASSETS[request.params.name];
    if (!asset) return reply.callNotFound();
    return reply.header('cache-control', 'public, max-age=300').type(asset.type).send(asset.body);
  });

  scope.get<{ Querystring: { return_to?: string; signed_out?: string } }>(
    '/sign-in',
    async (request, reply) =>
      html(
        reply,
        200,
        createElement(SignInPage, {
          provider: deps.providerName,
          returnTo: safeReturnTo(request.query.return_to),
          notice: request.query.signed_out ? 'You are signed out.' : undefined,
        }),
      ),
  );

  scope.get<{ Querystring: { return_to?: string } }>('/login', async (request, reply) => {
    let started: Awaited<ReturnType<OidcSignIn['start']>>;
    try {
      started = await deps.signIn.start(safeReturnTo(request.query.return_to), deps.clock.now());
    } catch (error) {
      if (!(error instanceof SignInError)) throw error;
      log.warn('admin sign-in could not start', { reason: error.reason });
      return html(
        reply,
        error.status,
        createElement(SignInPage, {
          provider: deps.providerName,
          returnTo: '/admin/mailouts',
          error: error.message,
        }),
      );
    }
    const { url, state } = started;
    reply.header(
      'set-cookie',
      cookie(SIGN_IN_COOKIE, deps.box.seal(toSealed(state)), {
        path: '/admin/auth',
        maxAge: 600,
        secure: deps.secureCookies,
      }),
    );
    return reply.redirect(url.href, 302);
  });

  scope.get('/auth/callback', async (request, reply) => {
    const clear = cookie(SIGN_IN_COOKIE, '', { path: '/admin/auth', maxAge: 0, secure: deps.secureCookies });
    const refuse = (error: SignInError) => {
      log.warn('admin sign-in refused', { reason: error.reason });
      return html(
        reply.header('set-cookie', clear),
        error.status,
        createElement(SignInPage, {
          provider: deps.providerName,
          returnTo: '/admin/mailouts',
          error: error.message,
        }),
      );
    };
    const sealed = cookies(request)[SIGN_IN_COOKIE];
    let state: SignInState | undefined;
    try {
      state = sealed ? fromSealed(deps.box.open(sealed)) : undefined;
    } catch {
      state = undefined;
    }
    if (!state) {
      return refuse(
        new SignInError(
          'This sign-in was not started here, or it took too long; start again.',
          400,
          'callback without a valid sign-in cookie',
        ),
      );
    }
    const callbackUrl = new URL(deps.redirectUri);
    callbackUrl.search = new URL(request.url, 'http://callback').search;
    let user: Awaited<ReturnType<OidcSignIn['finish']>>;
    try {
      user = await deps.signIn.finish(callbackUrl, state, deps.clock.now());
    } catch (error) {
      if (error instanceof SignInError) return refuse(error);
      throw error;
    }
    const expiresAt = new Date(deps.clock.now().getTime() + deps.sessionHours * 3_600_000);
    const { token } = await deps.sessions.create(user, expiresAt);
    await deps.onSignIn({ actor: user.actor, issuer: user.issuer });
    log.info('admin signed in', { actor: user.actor });
    reply.header('set-cookie', [
      clear,
      cookie(SESSION_COOKIE, token, {
        path: '/admin',
        maxAge: Math.floor(deps.sessionHours * 3600),
        secure: deps.secureCookies,
      }),
    ]);
    return reply.redirect(safeReturnTo(state.returnTo), 303);
  });

  // ---- Signed in: every other page; every POST carries the session's CSRF token ----
  scope.register(async (app) => {
    app.addHook('preHandler', async (request, reply) => {
      const token = cookies(request)[SESSION_COOKIE];
      const session = token ? await deps.sessions.find(token, deps.clock.now()) : undefined;
      if (!session) {
        if (request.method === 'GET' || request.method === 'HEAD') {
          return reply.redirect(
            `/admin/sign-in?${new URLSearchParams({ return_to: safeReturnTo(request.url) })}`,
            302,
          );
        }
        return html(
          reply,
          403,
          createElement(MessagePage, {
            title: 'Signed out',
            message: 'Your session has ended, so the form was not accepted. Sign in and try again.',
            link: { href: '/admin/sign-in', label: 'Sign in' },
          }),
        );
      }
      sessions.set(request, session);
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        const sent = (request.body as FormBody | undefined)?._csrf;
        if (typeof sent !== 'string' || !sameToken(sent, session.csrfToken)) {
          log.warn('admin form refused: CSRF token missing or wrong', {
            route: request.routeOptions.url ?? 'unmatched',
          });
          return html(
            reply,
            403,
            createElement(MessagePage, {
              title: 'Form refused',
              message:
                'This form did not carry the security token of your session (it may come from another site, or from an older page). Reload the page and try again.',
              user: pageUser(session),
            }),
          );
        }
      }
      return undefined;
    });

    app.get('/', async (_request, reply) => reply.redirect('/admin/mailouts', 302));

    app.post('/logout', async (request, reply) => {
      const token = cookies(request)[SESSION_COOKIE];
      if (token) await deps.sessions.delete(token);
      log.info('admin signed out', { actor: sessionOf(request).actor });
      reply.header(
        'set-cookie',
        cookie(SESSION_COOKIE, '', { path: '/admin', maxAge: 0, secure: deps.secureCookies }),
      );
      return reply.redirect('/admin/sign-in?signed_out=1', 303);
    });

    app.get<{ Querystring: { status?: string; cursor?: string; done?: string } }>(
      '/mailouts',
      async (request, reply) => {
        const session = sessionOf(request);
        const status = (MAILOUT_STATUSES as readonly string[]).includes(request.query.status ?? '')
          ? (request.query.status as (typeof MAILOUT_STATUSES)[number])
          : undefined;
        const cursor = /^\d+$/.test(request.query.cursor ?? '') ? request.query.cursor : undefined;
        const page = await deps.mailouts.list({ status, limit: 25, cursor });
        const counts = await deps.mailouts.countsFor(page.mailouts.map((m) => m.id));
        return html(
          reply,
          200,
          createElement(MailoutListPage, {
            user: pageUser(session),
            mailouts: page.mailouts.map((m) => ({ ...m, counts: counts.get(m.id) ?? {} })),
            statuses: MAILOUT_STATUSES,
            status,
            nextCursor: page.next_cursor,
            notice: NOTICES[request.query.done ?? ''],
          }),
        );
      },
    );

    const renderForm = (
      reply: FastifyReply,
      status: number,
      session: AdminSession,
      values: MailoutFormValues,
      extra: {
        mailoutId?: number;
        mailoutStatus?: string;
        errors?: { field: string; message: string }[];
        error?: string;
      },
    ) =>
      html(
        reply,
        status,
        createElement(MailoutFormPage, {
          user: pageUser(session),
          mailoutId: extra.mailoutId,
          status: extra.mailoutStatus,
          values,
          errors: extra.errors ?? [],
          error: extra.error,
        }),
      );

    app.get('/mailouts/new', async (request, reply) =>
      renderForm(reply, 200, sessionOf(request), { ...formValues({}, true), submit: true }, {}),
    );

    app.post('/mailouts', async (request, reply) => {
      const session = sessionOf(request);
      const body = request.body as FormBody;
      const parsed = createInput(body, session.timeZone, session.actor);
      if ('errors' in parsed)
        return renderForm(reply, 400, session, formValues(body, true), { errors: parsed.errors });
      try {
        const created = await deps.mailouts.create(parsed.input, session.actor);
        return reply.redirect(`/admin/mailouts/${created.id}?done=created`, 303);
      } catch (error) {
        if (!isAppError(error)) throw error;
        return renderForm(reply, error.status, session, formValues(body, true), {
          errors: error.fields,
          error: error.message,
        });
      }
    });

    const mailoutId = (raw: string) => {
      const id = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
      return Number.isSafeInteger(id) && id > 0 ? id : undefined;
    };

    const renderMailout = async (
      request: FastifyRequest<{
        Params: { id: string };
        Querystring: { status?: string; cursor?: string; done?: string };
      }>,
      reply: FastifyReply,
      status: number,
      error?: string,
    ) => {
      const id = mailoutId(request.params.id);
      if (!id) return reply.callNotFound();
      const session = sessionOf(request);
      const messageStatus = (MAILOUT_MESSAGE_STATUSES as readonly string[]).includes(
        request.query.status ?? '',
      )
        ? request.query.status
        : undefined;
      const cursor = /^\d+$/.test(request.query.cursor ?? '') ? request.query.cursor : undefined;
      const mailout = await deps.mailouts.get(id);
      const [stats, messages] = await Promise.all([
        deps.mailouts.stats(id),
        deps.mailouts.messages(id, { status: messageStatus, limit: 50, cursor }),
      ]);
      return html(
        reply,
        status,
        createElement(MailoutPage, {
          user: pageUser(session),
          mailout,
          stats,
          messages: messages.messages,
          messageStatuses: MAILOUT_MESSAGE_STATUSES,
          messageStatus,
          nextCursor: messages.next_cursor,
          notice: status === 200 ? NOTICES[request.query.done ?? ''] : undefined,
          error,
        }),
      );
    };

    app.get<{ Params: { id: string }; Querystring: { status?: string; cursor?: string; done?: string } }>(
      '/mailouts/:id',
      async (request, reply) => renderMailout(request, reply, 200),
    );

    app.get<{ Params: { id: string } }>('/mailouts/:id/edit', async (request, reply) => {
      const id = mailoutId(request.params.id);
      if (!id) return reply.callNotFound();
      const session = sessionOf(request);
      const mailout = await deps.mailouts.get(id);
      return renderForm(reply, 200, session, viewValues(mailout, session.timeZone), {
        mailoutId: id,
        mailoutStatus: mailout.status,
      });
    });

    app.post<{ Params: { id: string } }>('/mailouts/:id', async (request, reply) => {
      const id = mailoutId(request.params.id);
      if (!id) return reply.callNotFound();
      const session = sessionOf(request);
      const body = request.body as FormBody;
      const mailout = await deps.mailouts.get(id);
      const values = { ...viewValues(mailout, session.timeZone), ...stripUndefined(formValues(body, false)) };
      const parsed = updateInput(body, mailout, session.timeZone, session.actor);
      if ('errors' in parsed) {
        return renderForm(reply, 400, session, values, {
          mailoutId: id,
          mailoutStatus: mailout.status,
          errors: parsed.errors,
        });
      }
      try {
        await deps.mailouts.update(id, parsed.input, session.actor);
        return reply.redirect(`/admin/mailouts/${id}?done=saved`, 303);
      } catch (error) {
        if (!isAppError(error)) throw error;
        return renderForm(reply, error.status, session, values, {
          mailoutId: id,
          mailoutStatus: mailout.status,
          errors: error.fields.filter((f) => f.field in values),
          error: error.message,
        });
      }
    });

    const actions: Record<
      string,
      { done: string; run: (id: number, session: AdminSession, body: FormBody) => Promise<unknown> }
    > = {
      submit: { done: 'submitted', run: (id, s) => deps.mailouts.submit(id, s.actor) },
      pause: { done: 'paused', run: (id, s) => deps.mailouts.pause(id, s.actor) },
      resume: { done: 'resumed', run: (id, s) => deps.mailouts.resume(id, s.actor) },
      cancel: { done: 'cancelled', run: (id, s) => deps.mailouts.cancel(id, s.actor) },
      // The service decides who may approve (a manager, never the author, the version they saw).
      approve: {
        done: 'approved',
        run: (id, s, body) =>
          deps.mailouts.approve(id, { approved_by: s.actor, version: Number(body.version) }),
      },
      reject: {
        done: 'rejected',
        run: (id, s, body) =>
          deps.mailouts.reject(id, {
            rejected_by: s.actor,
            reason: body.reason?.trim().slice(0, 1000) || undefined,
          }),
      },
    };
    app.post<{ Params: { id: string; action: string }; Querystring: Record<string, string> }>(
      '/mailouts/:id/:action',
      async (request, reply) => {
        const id = mailoutId(request.params.id);
        const action = actions[request.params.action];
        if (!id || !action) return reply.callNotFound();
        const session = sessionOf(request);
        try {
          await action.run(id, session, request.body as FormBody);
        } catch (error) {
          if (!isAppError(error) || error.status === 404) throw error;
          log.info('admin action refused', {
            action: request.params.action,
            mailout_id: id,
            actor: session.actor,
            code: error.code,
          });
          return renderMailout(request as never, reply, error.status, error.message);
        }
        log.info('admin action', { action: request.params.action, mailout_id: id, actor: session.actor });
        return reply.redirect(`/admin/mailouts/${id}?done=${action.done}`, 303);
      },
    );

    app.get<{
      Querystring: {
        phone?: string;
        operator_code?: string;
        tag?: string;
        time_zone?: string;
        cursor?: string;
      };
    }>('/customers', async (request, reply) => {
      const session = sessionOf(request);
      const q = request.query;
      const search = {
        phone: (q.phone ?? '').trim().slice(0, 40),
        operator_code: (q.operator_code ?? '').trim().slice(0, 10),
        tag: (q.tag ?? '').trim().slice(0, 100),
        time_zone: (q.time_zone ?? '').trim().slice(0, 64),
      };
      const problems: string[] = [];
      const phone = search.phone ? normalizePhone(search.phone) : undefined;
      if (search.phone && !phone)
        problems.push('Phone: must be a phone number 7XXXXXXXXXX (+7…, 8…, spaces and dashes allowed).');
      if (search.operator_code && !/^\d{3}$/.test(search.operator_code))
        problems.push('Operator code: must be 3 digits such as 916.');
      const cursor = /^\d+$/.test(q.cursor ?? '') ? q.cursor : undefined;
      const page = problems.length
        ? { customers: [], next_cursor: null }
        : await deps.customers.list({
            phone,
            operator_code: search.operator_code || undefined,
            tag: search.tag || undefined,
            time_zone: search.time_zone || undefined,
            limit: 50,
            cursor,
          });
      return html(
        reply,
        problems.length ? 400 : 200,
        createElement(CustomersPage, {
          user: pageUser(session),
          search,
          customers: page.customers,
          nextCursor: page.next_cursor,
          error: problems.length ? problems.join(' ') : undefined,
        }),
      );
    });
  });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined && v !== ''),
  ) as Partial<T>;
}

function toSealed(state: SignInState): Record<string, string> {
  return {
    state: state.state,
    nonce: state.nonce,
    verifier: state.verifier,
    returnTo: state.returnTo,
    expiresAt: String(state.expiresAt),
  };
}

function fromSealed(value: Record<string, string>): SignInState | undefined {
  const { state, nonce, verifier, returnTo, expiresAt } = value;
  if (!state || !nonce || !verifier || !returnTo || !expiresAt) return undefined;
  return { state, nonce, verifier, returnTo, expiresAt: Number(expiresAt) };
}
