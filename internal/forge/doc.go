// Package forge knows the three forges semaphored talks to: GitHub, GitLab
// and Gitea (Forgejo speaks Gitea's dialect).
//
// The event side (this file's neighbours event.go, parse*.go, signature.go)
// turns a webhook request into one normalised Event: which repository, which
// ref, which commits and files, which pull request and whether it comes from
// a fork. It authenticates the request first with the forge's own scheme:
// GitHub's X-Hub-Signature-256 (HMAC-SHA256; the SHA-1 X-Hub-Signature is
// refused), GitLab's X-Gitlab-Token (a shared token), Gitea's
// X-Gitea-Signature (hex HMAC-SHA256). Every comparison is constant time and
// no error or log line ever carries a secret.
//
// Parsing is pure: no network, no state. Parse never panics on any input
// (fuzzed), and its errors say which field is missing or malformed so the
// receiver can answer 400 with the reason.
//
// The status side (status*.go) posts commit statuses through each forge's
// API.
package forge
