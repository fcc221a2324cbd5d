-- The W3C traceparent of the context a workflow was started in, when the
-- starting engine traces: a run of the workflow in any process continues
-- that trace. NULL when it was not traced.
ALTER TABLE workflows ADD COLUMN trace_context TEXT;
