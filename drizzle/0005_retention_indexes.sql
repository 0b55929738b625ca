CREATE INDEX "briefings_created_at_idx" ON "briefings" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "calendar_events_ends_at_idx" ON "calendar_events" USING btree ("ends_at");--> statement-breakpoint
CREATE INDEX "messages_idempotency_created_idx" ON "messages" USING btree ("created_at") WHERE "messages"."idempotency_key" IS NOT NULL;