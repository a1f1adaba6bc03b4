package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

// TestTaskDecodesLegacyTrigger reads tasks as schema v3 and v4 stored them
// ("trigger":"api","triggered_by":"x") and as they are stored now.
func TestTaskDecodesLegacyTrigger(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want Task
	}{
		{"v3", `{"id":1,"project":"web","template":"deploy","status":"success","trigger":"api","triggered_by":"token ci","commit":"abc123","vars":{"version":"1.2"},"exit_code":0,"created":"2026-03-01T12:02:00Z","log_lines":3,"log_bytes":21}`,
			Task{ID: 1, Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: task.TriggerAPI, Actor: "token ci"},
				Overrides: task.Overrides{Commit: "abc123", Vars: map[string]any{"version": "1.2"}}}, Status: StatusSuccess, Created: created, LogLines: 3, LogBytes: 21}},
		{"v3 without actor", `{"id":2,"project":"web","template":"deploy","status":"waiting","trigger":"schedule","exit_code":-1,"created":"2026-03-01T12:02:00Z"}`,
			Task{ID: 2, Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: task.TriggerSchedule}}, Status: StatusWaiting, ExitCode: -1, Created: created}},
		{"v4 before the trigger object", `{"id":4,"project":"web","template":"deploy","status":"waiting","trigger":"","dedupe_key":"github:f00d#web/deploy","exit_code":-1,"created":"2026-03-01T12:02:00Z"}`,
			Task{ID: 4, Request: task.Request{Project: "web", Template: "deploy", DedupeKey: "github:f00d#web/deploy"}, Status: StatusWaiting, ExitCode: -1, Created: created}},
		{"a var named triggered_by", `{"id":5,"project":"web","template":"deploy","trigger":{"type":"api","actor":"ci"},"vars":{"triggered_by":"x"},"status":"waiting","exit_code":-1,"created":"2026-03-01T12:02:00Z"}`,
			Task{ID: 5, Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: task.TriggerAPI, Actor: "ci"}, Overrides: task.Overrides{Vars: map[string]any{"triggered_by": "x"}}}, Status: StatusWaiting, ExitCode: -1, Created: created}},
		{"current", `{"id":3,"project":"web","template":"deploy","trigger":{"type":"push","actor":"octo","source":"github","delivery_id":"d-1"},"dedupe_key":"github:d-1/web/deploy","status":"waiting","exit_code":-1,"created":"2026-03-01T12:02:00Z"}`,
			Task{ID: 3, Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: task.TriggerPush, Actor: "octo", Source: "github", DeliveryID: "d-1"},
				DedupeKey: "github:d-1/web/deploy"}, Status: StatusWaiting, ExitCode: -1, Created: created}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Task
			if err := decodeTask([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			// What is stored now decodes to the same task.
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back Task
			if err := decodeTask(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.want) {
				t.Errorf("round trip: got %+v\nwant %+v", back, tt.want)
			}
		})
	}
}
