package task

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestRequestRoundTrip(t *testing.T) {
	in := Request{
		Project: "web", Template: "deploy",
		Trigger:   Trigger{Type: TriggerSchedule, Actor: "nightly", Slot: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)},
		DedupeKey: "schedule:web/nightly@2026-01-02T03:04:00Z",
		Overrides: Overrides{Commit: "abc", Vars: map[string]any{"a": "b"}, Tags: []string{"x"}, DryRun: true},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"project":"web","template":"deploy","trigger":{"type":"schedule","actor":"nightly","slot":"2026-01-02T03:04:00Z"},` +
		`"dedupe_key":"schedule:web/nightly@2026-01-02T03:04:00Z","commit":"abc","vars":{"a":"b"},"tags":["x"],"dry_run":true}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	var out Request
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
}

func TestOverridesSet(t *testing.T) {
	tests := []struct {
		o    Overrides
		want []string
	}{
		{Overrides{}, nil},
		{Overrides{Commit: "a", Branch: "b"}, []string{OverrideCommit, OverrideBranch}},
		{Overrides{Vars: map[string]any{"k": 1}, Arguments: []string{"-v"}, Limit: "h", Tags: []string{"t"}, SkipTags: []string{"s"}, Workspace: "w", DryRun: true},
			[]string{OverrideVars, OverrideArguments, OverrideLimit, OverrideTags, OverrideSkipTags, OverrideWorkspace, OverrideDryRun}},
		{Overrides{Vars: map[string]any{}, Tags: []string{}}, nil},
	}
	for _, tt := range tests {
		if got := tt.o.Set(); !slices.Equal(got, tt.want) {
			t.Errorf("Set(%+v): got %v, want %v", tt.o, got, tt.want)
		}
	}
}

func TestMachine(t *testing.T) {
	for typ, want := range map[TriggerType]bool{"": false, TriggerAPI: false, TriggerCLI: false, TriggerPush: true, TriggerPullRequest: true, TriggerSchedule: true, TriggerIntegration: true} {
		if got := typ.Machine(); got != want {
			t.Errorf("%q.Machine(): got %v, want %v", typ, got, want)
		}
	}
}
