-- How far a message has got. Webhook events only ever move a message to a higher rank, so a late
-- or replayed "delivered" never overwrites "bounced" (SendGrid batches and retries out of order).
-- queued/sending/deferred share rank 0-1 because the delivery worker moves between them itself.
CREATE OR REPLACE FUNCTION message_status_rank(s message_status) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE s
    WHEN 'queued' THEN 0
    WHEN 'deferred' THEN 1
    WHEN 'sending' THEN 1
    WHEN 'sent' THEN 2
    WHEN 'delivered' THEN 3
    WHEN 'opened' THEN 4
    WHEN 'clicked' THEN 5
    WHEN 'unsubscribed' THEN 6
    WHEN 'spam_report' THEN 7
    ELSE 8 -- bounced, dropped, failed, cancelled, suppressed: final
  END
$$;
