-- SQLite's migration 0008 records the stores that follow its change log.
-- PostgreSQL sends its wake-ups by NOTIFY, and has nothing to record:
-- this migration keeps the two backends' schema versions in step.
SELECT 1;
