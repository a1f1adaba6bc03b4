package api

import (
	"net/http"

	"github.com/semaphored/semaphored/internal/config"
)

// Authorize checks r's bearer token for reading project ("" = any
// project): 0 and nil when it may, else 401 or 403 and why. It is the
// API's own token check (scope read, project limits) for the task page
// (internal/web); the page's signed links are never accepted here.
func (h *Handler) Authorize(r *http.Request, project string) (int, error) {
	p, err := h.auth.authenticate(r, h.config.Snapshot().Config)
	if err == nil && !p.allows(config.ScopeRead) {
		err = errorf(http.StatusForbidden, "token %q has scope %s; this needs %s", p.name, p.scope, config.ScopeRead)
	}
	if err == nil && project != "" {
		err = p.checkProject(project)
	}
	if err != nil {
		code, msg := statusOf(err)
		return code, &httpError{status: code, msg: msg}
	}
	return 0, nil
}
