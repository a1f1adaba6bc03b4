package sync

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/semaphored/semaphored/internal/state"
)

// WritePlan prints changes the way `semaphored plan` shows them: one line
// per object, `+` create, `~` update (with the fields that change), `-`
// prune, then a summary line. stored is the state before the changes.
func WritePlan(w io.Writer, changes []state.Change, stored []state.Object) error {
	before := make(map[state.ObjectKey][]byte, len(stored))
	for _, o := range stored {
		before[o.Key] = o.Value
	}
	var n [3]int
	for _, c := range changes {
		var line string
		switch c.Op {
		case state.OpCreate:
			n[0]++
			line = "+ " + describe(c.Key)
		case state.OpUpdate:
			n[1]++
			line = "~ " + describe(c.Key)
			if fields := changedFields(before[c.Key], c.Value); len(fields) > 0 {
				line += fmt.Sprintf(" (%s)", strings.Join(fields, ", "))
			}
		case state.OpDelete:
			n[2]++
			line = "- " + describe(c.Key)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "No changes: the state matches the configuration.")
		return err
	}
	_, err := fmt.Fprintf(w, "Plan: %d to create, %d to change, %d to prune.\n", n[0], n[1], n[2])
	return err
}

func describe(k state.ObjectKey) string {
	switch {
	case k.Kind == state.KindSettings:
		return "settings"
	case k.Kind == state.KindProject:
		return "project " + k.Name
	case k.Project == "":
		return fmt.Sprintf("%s %s", k.Kind, k.Name)
	}
	return fmt.Sprintf("%s %s/%s", k.Kind, k.Project, k.Name)
}

// changedFields names the top-level JSON fields that differ. Values are not
// shown: they are long, and the plan output should be safe to paste.
func changedFields(a, b []byte) []string {
	var ma, mb map[string]any
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return nil
	}
	var fields []string
	for _, k := range slices.Sorted(maps.Keys(mb)) {
		if !reflect.DeepEqual(ma[k], mb[k]) {
			fields = append(fields, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ma)) {
		if _, ok := mb[k]; !ok {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	return fields
}
