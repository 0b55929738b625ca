import type { AuditRepository } from '../audit/audit.repository.ts';
import { AppError, zodFields } from '../errors.ts';
import { type RepRepository, type RepRow, toRepView } from './rep.repository.ts';
import { createRepSchema, type RepView, updateRepSchema } from './rep.schemas.ts';

/** Who is acting: a Slack user, an API key or the CLI. Written to the audit log as-is. */
export interface Actor {
  id: string;
  slackUserId?: string;
}

export class RepService {
  constructor(
    private readonly reps: RepRepository,
    private readonly audit: AuditRepository,
    private readonly bootstrapAdmins: readonly string[],
  ) {}

  /** Admins and managers manage reps; bootstrap admins (SLACK_ADMIN_USER_IDS) always may. */
  async canManageReps(slackUserId: string): Promise<boolean> {
    if (this.bootstrapAdmins.includes(slackUserId)) return true;
    return this.reps.hasRole(slackUserId, ['admin', 'manager']);
  }

  async isAdmin(slackUserId: string): Promise<boolean> {
    if (this.bootstrapAdmins.includes(slackUserId)) return true;
    return this.reps.hasRole(slackUserId, ['admin']);
  }

  /** Who gets alerts by DM when no alert channel is set: SLACK_ADMIN_USER_IDS and reps with role admin. */
  async adminSlackUserIds(): Promise<string[]> {
    return [...new Set([...this.bootstrapAdmins, ...(await this.reps.slackUserIdsWithRole(['admin']))])];
  }

  async create(input: unknown, actor: Actor): Promise<RepView> {
    const parsed = createRepSchema.safeParse(input);
    if (!parsed.success) throw AppError.validation(zodFields(parsed.error.issues));
    const row = await this.audit.audited(
      (tx) => this.reps.create(parsed.data, tx),
      (created) => ({
        actor: actor.id,
        action: 'rep.create',
        subject: created.id,
        details: { email: created.email },
      }),
    );
    return toRepView(row);
  }

  async update(id: string, input: unknown, actor: Actor): Promise<RepView> {
    const parsed = updateRepSchema.safeParse(input);
    if (!parsed.success) throw AppError.validation(zodFields(parsed.error.issues));
    const row = await this.audit.audited(
      (tx) => this.reps.update(id, parsed.data, tx),
      (updated) =>
        updated && {
          actor: actor.id,
          action: 'rep.update',
          subject: id,
          details: { fields: Object.keys(parsed.data) },
        },
    );
    if (!row) throw AppError.notFound('Rep', id);
    return toRepView(row);
  }

  async remove(id: string, actor: Actor): Promise<RepView> {
    const row = await this.audit.audited(
      (tx) => this.reps.delete(id, tx),
      (deleted) =>
        deleted && { actor: actor.id, action: 'rep.delete', subject: id, details: { email: deleted.email } },
    );
    if (!row) throw AppError.notFound('Rep', id);
    return toRepView(row);
  }

  async get(id: string): Promise<RepView> {
    const row = await this.findRow(id);
    if (!row) throw AppError.notFound('Rep', id);
    return toRepView(row);
  }

  async findRow(id: string): Promise<RepRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return this.reps.findById(id);
  }

  async findByEmail(email: string): Promise<RepRow | undefined> {
    return this.reps.findByEmail(email);
  }

  async bySlackUser(slackUserId: string): Promise<RepRow | undefined> {
    return this.reps.findBySlackUser(slackUserId);
  }

  async page(page: number, pageSize: number) {
    const { rows, total } = await this.reps.page(page * pageSize, pageSize);
    return { reps: rows.map(toRepView), total, page, pageSize };
  }

  async list(limit: number, cursor?: string): Promise<{ reps: RepView[]; next_cursor: string | null }> {
    const after = cursor ? decodeCursor(cursor) : undefined;
    const rows = await this.reps.list({ limit: limit + 1, after });
    const pageRows = rows.slice(0, limit);
    const last = pageRows.at(-1);
    return {
      reps: pageRows.map(toRepView),
      next_cursor: rows.length > limit && last ? encodeCursor({ name: last.name, id: last.id }) : null,
    };
  }
}

function encodeCursor(value: { name: string; id: string }): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(cursor: string): { name: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      typeof value?.name === 'string' &&
      typeof value?.id === 'string' &&
      /^[0-9a-f-]{36}$/i.test(value.id)
    ) {
      return value;
    }
  } catch {
    // fall through to the validation error below
  }
  throw AppError.validation([{ field: 'cursor', message: 'is not a cursor returned by this API' }]);
}
