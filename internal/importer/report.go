package importer

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is what an import did and what the operator must do next.
type Report struct {
	// Source is the Semaphore project's name, Project the semaphored one.
	Source, Project string
	// Counts is how many objects of each kind were written, in kind order.
	Counts []Count
	// Variables are the environment variables the daemon needs: every
	// {env: NAME} reference the import wrote, sorted by name.
	Variables []Variable
	// Edits are values the backup does not hold and the files carry a
	// placeholder for.
	Edits []Note
	// Renamed lists objects whose name had to change.
	Renamed []Rename
	// Unmapped lists what has no semaphored equivalent; each is kept in
	// the files as a comment.
	Unmapped []Note
}

// Count is how many objects of one kind were written.
type Count struct {
	Kind string
	N    int
}

// Variable is an environment variable the operator must provide.
type Variable struct {
	Name string
	For  string
}

// Note is one remark about a place in the written tree.
type Note struct {
	Where string // "templates.deploy" or "project"
	What  string
}

// Rename is a name that had to change to be a valid, unique name.
type Rename struct {
	Kind, From, To string
}

// WriteText writes the report for a person: what was imported, each
// variable to provide, each placeholder to edit, each rename and each
// thing not imported. It is also the content of IMPORT.md.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Import of Semaphore UI project %q as project %s\n\n", r.Source, r.Project)
	var parts []string
	for _, c := range r.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, plural(c.Kind, c.N)))
	}
	if len(parts) == 0 {
		parts = append(parts, "the project only")
	}
	fmt.Fprintf(&b, "Imported: %s.\n", strings.Join(parts, ", "))

	b.WriteString("\n## Environment variables to provide\n\n")
	if len(r.Variables) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("A Semaphore backup holds no secrets. Give the daemon these variables\n(systemd: the environment file; container: --env-file) before it syncs:\n\n")
		width := 0
		for _, v := range r.Variables {
			width = max(width, len(v.Name))
		}
		for _, v := range r.Variables {
			fmt.Fprintf(&b, "    %-*s  %s\n", width, v.Name, v.For)
		}
	}
	section := func(title string, notes []Note) {
		if len(notes) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s: %s\n", n.Where, n.What)
		}
	}
	section("Values to fill in or check", r.Edits)
	if len(r.Renamed) > 0 {
		b.WriteString("\n## Renamed (names must match ^[a-z0-9][a-z0-9._-]{0,62}$ and be unique)\n\n")
		for _, n := range r.Renamed {
			fmt.Fprintf(&b, "- %s %q -> %s\n", n.Kind, n.From, n.To)
		}
	}
	section("Not imported (no semaphored equivalent; kept as comments in the files)", r.Unmapped)
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(kind string, n int) string {
	if n == 1 {
		return kind
	}
	if p, ok := plurals[kind]; ok {
		return p
	}
	return kind + "s"
}

var plurals = map[string]string{"repository": "repositories", "inventory": "inventories"}

func (r *Report) variable(name, what string) {
	r.Variables = append(r.Variables, Variable{Name: name, For: what})
}

func (r *Report) unmapped(where, format string, args ...any) {
	r.Unmapped = append(r.Unmapped, Note{Where: where, What: fmt.Sprintf(format, args...)})
}

func (r *Report) edit(where, format string, args ...any) {
	r.Edits = append(r.Edits, Note{Where: where, What: fmt.Sprintf(format, args...)})
}

func (r *Report) sort() {
	slices.SortStableFunc(r.Variables, func(a, b Variable) int { return strings.Compare(a.Name, b.Name) })
}
