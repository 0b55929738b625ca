CREATE TYPE "public"."mailout_message_status" AS ENUM('pending', 'sent', 'failed', 'expired', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."mailout_status" AS ENUM('draft', 'pending_approval', 'scheduled', 'running', 'paused', 'finished', 'expired', 'cancelled', 'rejected');--> statement-breakpoint
CREATE TABLE "customers" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"phone" text NOT NULL,
	"operator_code" text NOT NULL,
	"tag" text,
	"time_zone" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_phone_unique" UNIQUE("phone")
);
--> statement-breakpoint
CREATE TABLE "mailout_message_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"status_code" integer,
	"latency_ms" integer NOT NULL,
	"outcome" text NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "mailout_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"mailout_id" bigint NOT NULL,
	"customer_id" bigint NOT NULL,
	"time_zone" text NOT NULL,
	"operator_code" text NOT NULL,
	"status" "mailout_message_status" DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailouts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"text" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"operator_codes" text[] DEFAULT '{}'::text[] NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"window_from" text,
	"window_to" text,
	"created_by" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"status" "mailout_status" DEFAULT 'draft' NOT NULL,
	"approved_version" integer,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"rejected_by" text,
	"rejection_reason" text,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "customers_operator_code_idx" ON "customers" USING btree ("operator_code");--> statement-breakpoint
CREATE INDEX "customers_tag_idx" ON "customers" USING btree ("tag");--> statement-breakpoint
CREATE INDEX "customers_time_zone_idx" ON "customers" USING btree ("time_zone");--> statement-breakpoint
CREATE INDEX "mailout_message_attempts_message_idx" ON "mailout_message_attempts" USING btree ("message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "mailout_messages_mailout_customer_idx" ON "mailout_messages" USING btree ("mailout_id","customer_id");--> statement-breakpoint
CREATE INDEX "mailout_messages_pending_idx" ON "mailout_messages" USING btree ("mailout_id","time_zone","next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "mailout_messages_customer_idx" ON "mailout_messages" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "mailouts_status_idx" ON "mailouts" USING btree ("status","starts_at");