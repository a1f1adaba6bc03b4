// Package client is the Go client of the semaphored HTTP API (package
// api): projects, templates, tasks, task actions, logs and the event log.
// The CLI's task and events commands use it; scripts in Go may too.
//
// A Client is safe for concurrent use. Every call takes a context that
// bounds it; a followed log lasts until the task ends or the context does,
// so give the http.Client no overall Timeout when following logs.
// Failures the server answered come back as *Error with its status code
// and message.
package client
