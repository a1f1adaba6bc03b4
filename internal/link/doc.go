// Package link signs and verifies the task links that commit statuses and
// notifications point at: /tasks/ID?exp=UNIX&sig=HMAC. A link opens the
// page of that one task until it expires, and nothing else (no other task,
// no API). The key lives in DATA/link.key (32 random bytes, mode 0600),
// created on first start; deleting it revokes every link handed out.
package link
