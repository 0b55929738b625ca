import type { WebClient } from '@slack/web-api';
import { z } from 'zod';

const usersInfoSchema = z.object({
  ok: z.literal(true),
  user: z.object({
    id: z.string(),
    tz: z.string().optional(),
    real_name: z.string().optional(),
    name: z.string().optional(),
    profile: z
      .object({
        email: z.string().optional(),
        real_name: z.string().optional(),
        display_name: z.string().optional(),
      })
      .optional(),
  }),
});

export interface SlackProfile {
  name?: string;
  email?: string;
  timeZone?: string;
}

/**
 * users.info for prefilling and naming reps. A failure or an odd answer yields an empty profile:
 * the person can still type the values, so it must never block the modal.
 */
export async function fetchSlackProfile(client: WebClient, userId: string): Promise<SlackProfile> {
  try {
    const parsed = usersInfoSchema.safeParse(await client.users.info({ user: userId }));
    if (!parsed.success) return {};
    const user = parsed.data.user;
    return {
      name: user.profile?.real_name || user.real_name || user.profile?.display_name || user.name,
      email: user.profile?.email,
      timeZone: user.tz,
    };
  } catch {
    return {};
  }
}
