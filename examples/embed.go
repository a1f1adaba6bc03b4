// Package examples bundles the quickstart config tree into the binary, so
// that `semaphored serve` with no --config runs on any machine.
package examples

import "embed"

// Quickstart holds the quickstart/ tree (paths start with "quickstart/").
//
//go:embed quickstart
var Quickstart embed.FS
