-- What became of each call at a window (issue 16 item 7): the hall director's statistics per
-- day and window read these rows rather than the tickets, since a ticket put back after a
-- no-show or a transfer loses its window. Keep in step with the other dialect's
-- 0015_call_outcomes.sql.
--
-- business_date and category: the ticket's day and the queue it was called from; clerk: who
-- called; waited_ms: how long the ticket had waited in its queue when called (from issue, or
-- from going back to the end of the queue); outcome: 'served', 'no_show' or 'transferred',
-- set with ended_at when the window is done with the call (NULL while it is open, and on
-- recalls, which only repeat a call). Rows from before this migration have none of these.
ALTER TABLE hall_calls ADD COLUMN business_date TEXT;
ALTER TABLE hall_calls ADD COLUMN category TEXT;
ALTER TABLE hall_calls ADD COLUMN clerk TEXT;
ALTER TABLE hall_calls ADD COLUMN waited_ms BIGINT;
ALTER TABLE hall_calls ADD COLUMN outcome TEXT;
ALTER TABLE hall_calls ADD COLUMN ended_at BIGINT;
CREATE INDEX hall_calls_by_day ON hall_calls (hall_id, business_date, window_no);
