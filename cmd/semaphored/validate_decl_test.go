package main

import "testing"

// TestValidatePlaybookFile: validate on a playbook beside the declarations
// says it is not a declaration, rather than "valid (0 projects)".
func TestValidatePlaybookFile(t *testing.T) {
	out, errOut, code := runCmd(t, "validate", "../../examples/quickstart/playbooks/hello.yml")
	want := "../../examples/quickstart/playbooks/hello.yml: not a declaration, serve skips it: a list at the top level (a playbook?)\n"
	if code != 0 || out != want {
		t.Errorf("got exit %d, stdout %q, stderr %q; want exit 0, stdout %q", code, out, errOut, want)
	}
}
