CREATE TABLE "contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"first_name" text DEFAULT '' NOT NULL,
	"last_name" text DEFAULT '' NOT NULL,
	"company" text DEFAULT '' NOT NULL,
	"time_zone" text,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"display_name" text DEFAULT '' NOT NULL,
	"daily_limit" integer NOT NULL,
	"warmup_start_limit" integer,
	"warmup_daily_increase" integer,
	"warmup_started_at" timestamp with time zone,
	"status" text DEFAULT 'active' NOT NULL,
	"paused_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mailboxes_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "sequence_contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"sequence_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"mailbox_id" uuid NOT NULL,
	"current_step" integer DEFAULT 0 NOT NULL,
	"last_sent_at" timestamp with time zone,
	"next_send_at" timestamp with time zone,
	"planned_at" timestamp with time zone,
	"status" text DEFAULT 'active' NOT NULL,
	"stopped_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sequence_mailboxes" (
	"sequence_id" uuid NOT NULL,
	"mailbox_id" uuid NOT NULL,
	CONSTRAINT "sequence_mailboxes_sequence_id_mailbox_id_pk" PRIMARY KEY("sequence_id","mailbox_id")
);
--> statement-breakpoint
CREATE TABLE "sequence_sends" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"enrollment_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"mailbox_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"message_id_header" text NOT NULL,
	"sent_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sequence_steps" (
	"sequence_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"delay_days" integer DEFAULT 0 NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	CONSTRAINT "sequence_steps_sequence_id_step_pk" PRIMARY KEY("sequence_id","step"),
	CONSTRAINT "sequence_steps_step_check" CHECK ("sequence_steps"."step" >= 1)
);
--> statement-breakpoint
CREATE TABLE "sequences" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"window_from" text NOT NULL,
	"window_to" text NOT NULL,
	"days" integer[] NOT NULL,
	"time_zone" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"owner_slack_user_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sequence_contacts" ADD CONSTRAINT "sequence_contacts_sequence_id_sequences_id_fk" FOREIGN KEY ("sequence_id") REFERENCES "public"."sequences"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_contacts" ADD CONSTRAINT "sequence_contacts_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_contacts" ADD CONSTRAINT "sequence_contacts_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_mailboxes" ADD CONSTRAINT "sequence_mailboxes_sequence_id_sequences_id_fk" FOREIGN KEY ("sequence_id") REFERENCES "public"."sequences"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_mailboxes" ADD CONSTRAINT "sequence_mailboxes_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_sends" ADD CONSTRAINT "sequence_sends_enrollment_id_sequence_contacts_id_fk" FOREIGN KEY ("enrollment_id") REFERENCES "public"."sequence_contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequence_steps" ADD CONSTRAINT "sequence_steps_sequence_id_sequences_id_fk" FOREIGN KEY ("sequence_id") REFERENCES "public"."sequences"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_email_idx" ON "contacts" USING btree (lower("email"));--> statement-breakpoint
CREATE UNIQUE INDEX "sequence_contacts_one_active_idx" ON "sequence_contacts" USING btree ("sequence_id","contact_id") WHERE "sequence_contacts"."status" IN ('active', 'paused');--> statement-breakpoint
CREATE INDEX "sequence_contacts_due_idx" ON "sequence_contacts" USING btree ("next_send_at") WHERE "sequence_contacts"."status" = 'active';--> statement-breakpoint
CREATE INDEX "sequence_contacts_planned_idx" ON "sequence_contacts" USING btree ("mailbox_id","planned_at");--> statement-breakpoint
CREATE INDEX "sequence_contacts_updated_idx" ON "sequence_contacts" USING btree ("updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sequence_sends_step_idx" ON "sequence_sends" USING btree ("enrollment_id","step");--> statement-breakpoint
CREATE INDEX "sequence_sends_mailbox_idx" ON "sequence_sends" USING btree ("mailbox_id","sent_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sequence_sends_header_idx" ON "sequence_sends" USING btree ("message_id_header");--> statement-breakpoint
CREATE UNIQUE INDEX "sequence_sends_message_idx" ON "sequence_sends" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "sequence_sends_sent_at_idx" ON "sequence_sends" USING btree ("sent_at");