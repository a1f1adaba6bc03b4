package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

func TestTaskOrigin(t *testing.T) {
	slot := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		trigger task.Trigger
		want    string // the origin's JSON; "" for none
	}{
		{"api task", task.Trigger{Type: task.TriggerAPI, Actor: "token ci"}, ""},
		{"pull request", task.Trigger{Type: task.TriggerPullRequest, Source: "github", DeliveryID: "d-1", PR: 42, Head: "feature", Base: "main", Fork: true},
			`{"source":"github","delivery_id":"d-1","pr":42,"head":"feature","base":"main","fork":true}`},
		{"schedule", task.Trigger{Type: task.TriggerSchedule, Source: "schedule", Actor: "nightly", Slot: slot},
			`{"source":"schedule","slot":"2026-03-29T01:30:00Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st state.Task
			st.ID, st.Trigger = 7, tc.trigger
			b, err := json.Marshal(api.TaskOf(st))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(m["origin"]))
			if got != tc.want {
				t.Errorf("origin = %s, want %s", got, tc.want)
			}
			if string(m["trigger"]) != `"`+string(tc.trigger.Type)+`"` {
				t.Errorf("trigger = %s, want %q", m["trigger"], tc.trigger.Type)
			}
		})
	}
}
