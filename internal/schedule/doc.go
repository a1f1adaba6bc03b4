// Package schedule fires the cron schedules of the active configuration:
// `schedules:` entries and templates' `triggers.schedule`.
//
// Specs are robfig/cron/v3's five fields or descriptors (@hourly, @daily,
// @every 30s), read in an IANA timezone per schedule (default UTC). Across
// DST changes a schedule with a fixed hour fires once per wall-clock slot:
// a slot inside the hour skipped in spring runs at the same offset after
// the jump (02:30 → 03:30), a slot inside the hour repeated in autumn runs
// once, at its first occurrence. A schedule whose hour field is "*"
// (@hourly, "*/5 * * * *") fires on every real hour, 23 or 25 of them that
// day.
//
// A fire is recorded as a delivery (source "schedule", id
// "PROJECT/NAME@SLOT" with the slot in RFC 3339 UTC) together with its task
// in one transaction, so that neither a restart nor a config reload ever
// fires a slot twice. overlap: skip (the default) records a slot whose
// previous task still waits or runs as skipped instead of queueing behind
// it; queue queues it anyway. catch_up: last runs, once, the last slot
// missed while the daemon was down (found by looking back over the
// recorded slots of the last seven days, the time deliveries are kept);
// none (the default) forgets missed slots. active: false fires nothing.
//
// A reload keeps the next slot of every schedule whose declaration did not
// change; a changed or new schedule starts from the next slot after the
// reload. The Scheduler is driven by Run; config snapshots arrive through
// Subscribe and are applied by the Run loop, never blocking the sync.
package schedule
