// Package webhook receives what starts tasks from outside: forge webhooks
// (POST /hooks/github, /hooks/gitlab, /hooks/gitea) and generic
// integrations (POST /hooks/integrations/{project}/{name}).
//
// A forge request is handled in this order, and the answer always says
// what happened as JSON:
//
//  1. a body over settings.webhooks.max_body is refused with 413, without
//     reading it past the limit;
//  2. the repository the payload names is looked up among the declared
//     repositories (and the config repository) of that forge, and the
//     request is authenticated with their webhook_secret; unknown
//     repository, no secret or a bad signature answer 401 and record
//     nothing;
//  3. the payload is parsed (400 with the reason when it is malformed);
//  4. the delivery and the tasks it creates are recorded in one
//     transaction (state AcceptDelivery) before the answer: 201 with the
//     tasks, 202 when paths still need a diff, 200 with the reasons when
//     nothing runs, 200 "already processed" with the first tasks for a
//     redelivery;
//  5. after the answer, the intake worker (Run) does what needs the
//     network: diffs for changed paths of deliveries recorded Pending
//     (resumed after a restart from PendingDeliveries; a diff that fails
//     for a transient reason is retried every minute for RetryFor), and
//     stopping the pull request checks a new head made obsolete.
//
// Integration calls follow the same steps with the integration's own auth
// (hmac, token, Bearer token, none), matchers and extractors: 201 with the
// task, or 200 with "tasks": [] and the reason.
//
// Secrets are resolved per request and never logged, returned or put in a
// metric label.
package webhook
