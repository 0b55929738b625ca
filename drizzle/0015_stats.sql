CREATE TABLE "stats_channels" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"channel_id" text NOT NULL,
	"post_time" text DEFAULT '09:00' NOT NULL,
	"time_zone" text NOT NULL,
	"sections" text[] DEFAULT ARRAY['deliveries','mailouts','sequences','appointments','briefings']::text[] NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"broken_reason" text,
	"broken_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stats_channels_channel_id_unique" UNIQUE("channel_id")
);
--> statement-breakpoint
CREATE TABLE "stats_recipients" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"name" text,
	"send_time" text DEFAULT '09:00' NOT NULL,
	"time_zone" text NOT NULL,
	"sections" text[] DEFAULT ARRAY['deliveries','mailouts','sequences','appointments','briefings']::text[] NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stats_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target_kind" text NOT NULL,
	"target_id" uuid NOT NULL,
	"local_date" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"report" jsonb,
	"post_key" text,
	"message_id" uuid,
	"chart_status" text,
	"chart_file_id" text,
	"chart_error" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "stats_recipients_email_idx" ON "stats_recipients" USING btree (lower("email"));--> statement-breakpoint
CREATE UNIQUE INDEX "stats_runs_target_date_idx" ON "stats_runs" USING btree ("target_kind","target_id","local_date");--> statement-breakpoint
CREATE INDEX "stats_runs_created_at_idx" ON "stats_runs" USING btree ("created_at");