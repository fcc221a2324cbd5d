// Package inspectweb is the web view of dbos-inspect serve: a local,
// server-rendered view of the workflows of a system database, read
// through a [durable.Client] and nothing else.
//
// # Pages
//
// The list page (/) shows the workflows, newest first, with filters by
// status, name, queue and ID prefix, a page at a time (the list's
// cursor), and the depth of each queue. The detail page (/wf/ID) shows a
// workflow's fields, input, output and error, an SVG timeline with one
// bar per recorded step and per child workflow, its steps, the messages
// it sent and received, and, on request, the value of one of its events
// or streams. Pages of active workflows refresh themselves.
//
// Pages come from html/template, which escapes every payload; styles and
// the refresh script are embedded, so the view works offline.
//
// # Writes
//
// Cancel, resume and fork buttons appear only with Options.AllowWrites.
// Writes are POST requests that must carry the server's per-process
// token in a form field and come from the view's own origin (as
// Sec-Fetch-Site and Origin say); anything else is refused with 403.
// Without AllowWrites every request but GET and HEAD is refused with 405.
package inspectweb
