// Package api serves the HTTP API of semaphored under /api/v1/: the
// declared projects and templates of the active configuration, the task
// list and details, task logs (whole or followed live), and the task
// actions (create, stop, confirm, reject).
//
// A Handler is built with New from small interfaces it consumes (Engine,
// TaskStore, Snapshots, SecretResolver), so the daemon wires the real
// exec engine and state store and tests wire fakes. Every request is
// authenticated with a bearer token: the tokens declared in
// settings.api_tokens of the active configuration (resolved once per
// configuration and compared as SHA-256 digests in constant time) and the
// admin token the daemon keeps in DATA/admin.token (see WriteAdminToken).
//
// The Handler keeps no per-request state: after a request returns, nothing
// of it is retained, so memory stays flat however many requests it serves.
// A log follower is tied to its request's context: when the client goes
// away, the follow ends and everything it held is released. CloseStreams
// ends every follow at shutdown (register it with
// http.Server.RegisterOnShutdown), so a graceful shutdown does not wait for
// running tasks.
//
// # Bounded answers
//
// No answer holds more than a bounded amount of memory, whatever the
// stored tasks hold. A task list answers summaries without vars; it reads
// the store in batches sized by the weight of the tasks seen so far,
// their decoded vars included (down to one task at a time when the vars
// are large: the store decodes them even though the list leaves them
// out); a page of up to 512 KiB of JSON is encoded whole and sent, a
// larger one is streamed task by task after a first pass that finds its
// end (the Link header comes before the body). Logs are read and written
// in batches of 1,000 lines. A task's detail is one task, encoded whole.
// Request bodies are at most MaxBodyBytes (413 beyond) and a task
// request's vars at most MaxVarsBytes of compact JSON (413), so new tasks
// stay small.
//
// # Connections
//
// Authentication and the scope check come before anything reads a
// request's body. Every error answer to a request that announced a body
// is sent at once with Connection: close, and the connection's read
// deadline is moved to now, so a caller that announces a body and never
// sends it holds nothing. A body is read under the listener's read
// timeout (net/http lifts it once the body is read). Streamed answers
// (lists, logs, followed logs, backups) renew the connection's write
// deadline before every write (Options.StreamWriteTimeout, 30 s by
// default): a follower that reads is never cut, however long the task
// runs, and one that stops reading is dropped once a write has waited
// that long (counted in semaphored_http_streams_dropped_total).
//
// # Errors
//
// Errors are JSON objects {"error": "message"} with the status code that
// says what went wrong; internal errors are logged and answered with a
// generic message, so no detail (and no secret) leaks to a caller. A
// project the caller's token is not limited to, and its tasks, are 404
// exactly as if they did not exist, so task ids of other projects cannot
// be enumerated. A POST body must be declared Content-Type:
// application/json (415), be valid UTF-8 without lone UTF-16 surrogate
// escapes, hold no unknown field and nothing after the object (400).
// An engine that is shutting down (exec.ErrClosed) is 503.
package api
