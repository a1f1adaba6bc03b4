package config

import "time"

// Snapshot is the configuration in force, taken as one value: the config,
// the revision it was loaded from and the root of that revision's tree
// (what relative local repository paths resolve against). A consumer
// reads one Snapshot per decision, so it can never pair the config of one
// revision with the root of another. A zero Snapshot (nil Config) means no
// revision is active yet. The Config is shared and read-only.
type Snapshot struct {
	Config   *Config
	Revision string
	Root     string
}

// DefaultDrainTimeout is settings.drain_timeout when it is not set: with
// the default 10s stop_grace_period and a few seconds to close the state,
// a stop fits Kubernetes' default 30s terminationGracePeriodSeconds (and
// systemd's default 90s TimeoutStopSec).
const DefaultDrainTimeout = 15 * time.Second
