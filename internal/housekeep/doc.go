// Package housekeep keeps the state file from growing without bound: a
// Housekeeper deletes, on a timer, terminal tasks beyond the retention
// policy, old events, revision records beyond a count and webhook
// delivery ids past their time to live, and delivered-report markers and
// failed reports of the outbox past the retention.
//
// It decides nothing itself: main feeds it the Policy (from the active
// configuration's settings.retention) through a function read at each
// pass, so a new configuration applies at the next pass. A pass runs each
// step even when an earlier one failed, joins the errors and logs what it
// deleted.
package housekeep
