package runner

import (
	"errors"
)

// script runs a bash, python or powershell script: BIN [PRE...] ENTRY ARGS...
// in RepoDir, with the vars in a 0600 JSON file named by
// SEMAPHORED_VARS_FILE and SEMAPHORED_DRY_RUN=1 in dry runs.
func (r *run) script(bin string, pre []string) Result {
	path, err := lookPath(bin, r.pathEnv())
	if err != nil {
		if errors.Is(err, errNotFound) {
			return Result{Status: Error, ExitCode: -1, Message: err.Error()}
		}
		return *errResult(err)
	}
	entry, err := r.entry("script")
	if err != nil {
		return *errResult(err)
	}
	vars := r.spec.Vars
	if vars == nil {
		vars = map[string]any{}
	}
	varsFile, err := r.writePrivateJSON("vars.json", vars)
	if err != nil {
		return *errResult(err)
	}
	extra := map[string]string{
		"SEMAPHORED_VARS_FILE": varsFile,
		"PYTHONUNBUFFERED":     "1",
	}
	if r.spec.DryRun {
		extra["SEMAPHORED_DRY_RUN"] = "1"
	}
	argv := append([]string{path}, pre...)
	argv = append(argv, entry)
	argv = append(argv, r.spec.Arguments...)
	code, res := r.proc(r.spec.RepoDir, argv, r.environ(extra))
	if res != nil {
		return *res
	}
	return exitResult(bin, code)
}
