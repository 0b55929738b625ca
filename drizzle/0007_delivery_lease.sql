ALTER TABLE "messages" ADD COLUMN "claim_token" uuid;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "unknown_outcome_provider" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "unknown_outcome_at" timestamp with time zone;