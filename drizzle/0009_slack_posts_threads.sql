ALTER TABLE "slack_posts" ADD COLUMN "key" text;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "channel_id" text;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "ts" text;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "thread_ts" text;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "parent_id" uuid;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "copy_of" uuid;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "revision" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "posted_revision" integer;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "broadcast" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "not_before" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "slack_posts" ADD COLUMN "job_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "slack_posts_key_idx" ON "slack_posts" USING btree ("key");--> statement-breakpoint
CREATE INDEX "slack_posts_status_channel_idx" ON "slack_posts" USING btree ("status","channel");--> statement-breakpoint
CREATE INDEX "slack_posts_parent_idx" ON "slack_posts" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "slack_posts_copy_of_idx" ON "slack_posts" USING btree ("copy_of");