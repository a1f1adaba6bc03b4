package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
)

// Objects flattens a config into the objects the state stores: one per
// declared thing, each its canonical JSON (secret references only), sorted
// by key.
func Objects(cfg *config.Config) ([]state.Object, error) {
	var objs []state.Object
	var firstErr error
	add := func(project string, kind state.Kind, name string, v any) {
		b, err := json.Marshal(v)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("encode %s %s/%s: %w", kind, project, name, err)
		}
		objs = append(objs, state.Object{Key: state.ObjectKey{Project: project, Kind: kind, Name: name}, Value: b})
	}
	settings := cfg.Settings
	settings.APITokens = nil
	add("", state.KindSettings, "settings", settings)
	for name, t := range cfg.Settings.APITokens {
		add("", state.KindAPIToken, name, t)
	}
	for pname, p := range cfg.Projects {
		add(pname, state.KindProject, pname, p)
		addAll(add, pname, state.KindRepository, p.Repositories)
		addAll(add, pname, state.KindKey, p.Keys)
		addAll(add, pname, state.KindInventory, p.Inventories)
		addAll(add, pname, state.KindEnvironment, p.Environments)
		addAll(add, pname, state.KindTemplate, p.Templates)
		addAll(add, pname, state.KindSchedule, p.Schedules)
		addAll(add, pname, state.KindIntegration, p.Integrations)
		addAll(add, pname, state.KindNotification, p.Notifications)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(objs, func(a, b state.Object) int { return compareKeys(a.Key, b.Key) })
	return objs, nil
}

func addAll[T any](add func(string, state.Kind, string, any), project string, kind state.Kind, m map[string]T) {
	for name, v := range m {
		add(project, kind, name, v)
	}
}

func compareKeys(a, b state.ObjectKey) int {
	if c := strings.Compare(a.Project, b.Project); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Diff returns the changes that turn stored into desired, in key order.
func Diff(desired, stored []state.Object) []state.Change {
	have := make(map[state.ObjectKey][]byte, len(stored))
	for _, o := range stored {
		have[o.Key] = o.Value
	}
	var changes []state.Change
	for _, o := range desired {
		old, ok := have[o.Key]
		switch {
		case !ok:
			changes = append(changes, state.Change{Op: state.OpCreate, Key: o.Key, Value: o.Value})
		case !bytes.Equal(old, o.Value):
			changes = append(changes, state.Change{Op: state.OpUpdate, Key: o.Key, Value: o.Value})
		}
		delete(have, o.Key)
	}
	for _, k := range slices.SortedFunc(maps.Keys(have), compareKeys) {
		changes = append(changes, state.Change{Op: state.OpDelete, Key: k})
	}
	slices.SortStableFunc(changes, func(a, b state.Change) int { return compareKeys(a.Key, b.Key) })
	return changes
}

// FromObjects rebuilds the config that Objects flattened; it is how the
// daemon gets its last good config back from the state after a restart.
func FromObjects(objs []state.Object) (*config.Config, error) {
	cfg := &config.Config{Projects: map[string]*config.Project{}}
	project := func(name string) *config.Project {
		p := cfg.Projects[name]
		if p == nil {
			p = &config.Project{Name: name}
			cfg.Projects[name] = p
		}
		return p
	}
	for _, o := range objs {
		k := o.Key
		var err error
		switch k.Kind {
		case state.KindSettings:
			tokens := cfg.Settings.APITokens
			err = json.Unmarshal(o.Value, &cfg.Settings)
			cfg.Settings.APITokens = tokens
		case state.KindAPIToken:
			err = decodeInto(o.Value, k.Name, &cfg.Settings.APITokens)
		case state.KindProject:
			p := project(k.Name)
			keep := *p
			err = json.Unmarshal(o.Value, p)
			p.Repositories, p.Keys, p.Inventories, p.Environments = keep.Repositories, keep.Keys, keep.Inventories, keep.Environments
			p.Templates, p.Schedules, p.Integrations = keep.Templates, keep.Schedules, keep.Integrations
			p.Notifications = keep.Notifications
		case state.KindRepository:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Repositories)
		case state.KindKey:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Keys)
		case state.KindInventory:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Inventories)
		case state.KindEnvironment:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Environments)
		case state.KindTemplate:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Templates)
		case state.KindSchedule:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Schedules)
		case state.KindIntegration:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Integrations)
		case state.KindNotification:
			err = decodeInto(o.Value, k.Name, &project(k.Project).Notifications)
		default:
			err = fmt.Errorf("unknown kind")
		}
		if err != nil {
			return nil, fmt.Errorf("decode stored %s %s/%s: %w", k.Kind, k.Project, k.Name, err)
		}
	}
	return cfg, nil
}

func decodeInto[T any](b []byte, name string, m *map[string]*T) error {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]*T{}
	}
	(*m)[name] = v
	return nil
}
