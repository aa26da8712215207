-- The W3C trace context of the request that recorded the event, sent on as
-- the event's `traceparent` header.
ALTER TABLE outbox ADD COLUMN traceparent text;
