// Package gitcache keeps one cached bare clone per repository URL and
// checks commits out of it into private work directories. Fetches bring
// only what moved; every git operation has a timeout; credentials never
// appear in errors or logs.
package gitcache
