// Package web serves the task page, GET /tasks/{id}: one self-contained
// HTML document (inline CSS and JavaScript, no CDN, no web fonts, readable
// on a phone) with the task's project, template, trigger, commit (linked
// to its forge), status, duration and log, ANSI colours rendered. The page
// shows the log's tail and loads earlier lines on demand
// (GET /tasks/{id}/log?before=N), so a 200,000-line log opens as fast as a
// short one; while the task runs, new lines arrive by Server-Sent Events
// (GET /tasks/{id}/events).
//
// Every route takes either a bearer token (checked by the API's token
// check, read scope on the task's project) or the signed link of a commit
// status or notification (internal/link): a link opens its own task's
// page, log and events, and nothing else (the API never accepts it). A
// missing credential is 401, a tampered or expired link 403.
package web
