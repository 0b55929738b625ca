import { and, asc, count, eq, gt, inArray, isNotNull, or, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/client.ts';
import { reps } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { CreateRepInput, RepView, UpdateRepInput } from './rep.schemas.ts';

export type RepRow = typeof reps.$inferSelect;

export function toRepView(row: RepRow): RepView {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    time_zone: row.timeZone,
    slack_user_id: row.slackUserId,
    briefing_time: row.briefingTime,
    prep_time: row.prepTime,
    calendar_source: row.calendarSource,
    role: row.role,
    slack_dm: row.slackDm,
    empty_briefings: row.emptyBriefings,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toColumns(input: Partial<CreateRepInput>) {
  const columns: Partial<typeof reps.$inferInsert> = {};
  if (input.name !== undefined) columns.name = input.name;
  if (input.email !== undefined) columns.email = input.email;
  if (input.time_zone !== undefined) columns.timeZone = input.time_zone;
  if (input.slack_user_id !== undefined) columns.slackUserId = input.slack_user_id;
  if (input.briefing_time !== undefined) columns.briefingTime = input.briefing_time;
  if (input.prep_time !== undefined) columns.prepTime = input.prep_time;
  if (input.calendar_source !== undefined) columns.calendarSource = input.calendar_source;
  if (input.role !== undefined) columns.role = input.role;
  if (input.slack_dm !== undefined) columns.slackDm = input.slack_dm;
  if (input.empty_briefings !== undefined) columns.emptyBriefings = input.empty_briefings;
  return columns;
}

/** Maps unique violations onto a conflict naming the field a person has to change. */
function conflictFrom(error: unknown): AppError | undefined {
  const pgError = (error as { cause?: { code?: string; constraint?: string } }).cause ?? (error as never);
  if ((pgError as { code?: string })?.code !== '23505') return undefined;
  const constraint = (pgError as { constraint?: string }).constraint ?? '';
  const field = constraint.includes('slack_user') ? 'slack_user_id' : 'email';
  return new AppError(
    'conflict',
    `A rep with this ${field === 'email' ? 'email' : 'Slack user'} already exists`,
    {
      fields: [{ field, message: 'is already used by another rep' }],
      cause: error,
    },
  );
}

export class RepRepository {
  constructor(private readonly db: Database) {}

  async create(input: CreateRepInput, tx: Executor = this.db): Promise<RepRow> {
    try {
      const [row] = await tx
        .insert(reps)
        .values({ ...(toColumns(input) as typeof reps.$inferInsert) })
        .returning();
      return row as RepRow;
    } catch (error) {
      throw conflictFrom(error) ?? error;
    }
  }

  async update(id: string, input: UpdateRepInput, tx: Executor = this.db): Promise<RepRow | undefined> {
    try {
      const [row] = await tx
        .update(reps)
        .set({ ...toColumns(input), updatedAt: sql`now()` })
        .where(eq(reps.id, id))
        .returning();
      return row;
    } catch (error) {
      throw conflictFrom(error) ?? error;
    }
  }

  async delete(id: string, tx: Executor = this.db): Promise<RepRow | undefined> {
    const [row] = await tx.delete(reps).where(eq(reps.id, id)).returning();
    return row;
  }

  async findById(id: string): Promise<RepRow | undefined> {
    return this.db.query.reps.findFirst({ where: eq(reps.id, id) });
  }

  async findByEmail(email: string): Promise<RepRow | undefined> {
    return this.db.query.reps.findFirst({ where: sql`lower(${reps.email}) = lower(${email})` });
  }

  async findBySlackUser(slackUserId: string): Promise<RepRow | undefined> {
    return this.db.query.reps.findFirst({ where: eq(reps.slackUserId, slackUserId) });
  }

  /** Slack user ids of the reps with one of these roles (reps without a Slack user are left out). */
  async slackUserIdsWithRole(roles: RepRow['role'][]): Promise<string[]> {
    const rows = await this.db
      .select({ slackUserId: reps.slackUserId })
      .from(reps)
      .where(and(inArray(reps.role, roles), isNotNull(reps.slackUserId)));
    return rows.map((r) => r.slackUserId).filter((id): id is string => Boolean(id));
  }

  async hasRole(slackUserId: string, roles: RepRow['role'][]): Promise<boolean> {
    const row = await this.db.query.reps.findFirst({
      columns: { id: true },
      where: and(eq(reps.slackUserId, slackUserId), inArray(reps.role, roles)),
    });
    return row !== undefined;
  }

  /** Keyset pagination by (name, id): stable while reps are added or removed between pages. */
  async list(options: { limit: number; after?: { name: string; id: string } }): Promise<RepRow[]> {
    const after = options.after;
    return this.db
      .select()
      .from(reps)
      .where(
        after
          ? or(gt(reps.name, after.name), and(eq(reps.name, after.name), gt(reps.id, after.id)))
          : undefined,
      )
      .orderBy(asc(reps.name), asc(reps.id))
      .limit(options.limit);
  }

  async page(offset: number, limit: number): Promise<{ rows: RepRow[]; total: number }> {
    const [rows, [totalRow]] = await Promise.all([
      this.db.select().from(reps).orderBy(asc(reps.name), asc(reps.id)).offset(offset).limit(limit),
      this.db.select({ total: count() }).from(reps),
    ]);
    return { rows, total: totalRow?.total ?? 0 };
  }
}
