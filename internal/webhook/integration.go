package webhook

import (
	"context"
	"net/http"
	"strings"

	"github.com/semaphored/semaphored/internal/trigger"
)

// IntegrationSource is the delivery source of integration calls.
const IntegrationSource = "integration"

func (r *Receiver) serveIntegration(w http.ResponseWriter, req *http.Request) {
	start := r.now()
	result := "error"
	defer func() { r.m.observe(IntegrationSource, "call", result, r.now().Sub(start)) }()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		errAnswer(w, http.StatusMethodNotAllowed, "bad request", "use POST")
		result = "bad_request"
		return
	}
	snap := r.snaps.Snapshot()
	if snap.Config == nil {
		errAnswer(w, http.StatusServiceUnavailable, "unavailable", "no configuration is active yet; retry later")
		result = "unavailable"
		return
	}
	project, name := req.PathValue("project"), req.PathValue("name")
	p := snap.Config.Projects[project]
	if p == nil || p.Integrations[name] == nil {
		errAnswer(w, http.StatusNotFound, "not found", "no integration "+name+" in project "+project)
		result = "not_found"
		return
	}
	in := p.Integrations[name]
	body, ok := readBody(w, req, maxBody(snap.Config))
	if !ok {
		result = "too_large"
		return
	}
	var secret []byte
	if in.Auth.Secret != nil {
		v, err := r.secrets.Resolve(*in.Auth.Secret)
		if err != nil {
			r.log.Error("integration secret not available", "project", project, "integration", name, "err", err)
			errAnswer(w, http.StatusUnauthorized, "unauthorized", "unauthorized")
			result = "unauthorized"
			return
		}
		secret = []byte(v)
	}
	if err := trigger.CheckIntegrationAuth(in, secret, req.Header, body); err != nil {
		r.log.Warn("integration call refused", "project", project, "integration", name)
		errAnswer(w, http.StatusUnauthorized, "unauthorized", "unauthorized")
		result = "unauthorized"
		return
	}
	call, err := trigger.MatchIntegration(in, req.Header, body)
	if err != nil {
		errAnswer(w, http.StatusBadRequest, "bad request", err.Error())
		result = "bad_request"
		return
	}
	callID := strings.TrimSpace(req.Header.Get("Idempotency-Key"))
	if callID == "" {
		callID = strings.TrimSpace(req.Header.Get("X-Request-Id"))
	}
	if callID == "" {
		callID = newCallID(r.now())
	}
	code, a := r.acceptCall(req.Context(), project, name, in.Template, callID, call)
	result = a.Status
	if result == "already processed" {
		result = "duplicate"
	}
	writeJSON(w, code, a)
}

func (r *Receiver) acceptCall(ctx context.Context, project, name, template, callID string, call trigger.IntegrationCall) (int, Answer) {
	id := project + "/" + name + ":" + callID
	d := trigger.Delivery{Source: IntegrationSource, ID: id, Event: "call", Received: r.now()}
	var tasks []trigger.Task
	if call.Matched {
		tasks = []trigger.Task{{Request: trigger.Request{
			Project:   project,
			Template:  template,
			DedupeKey: IntegrationSource + ":" + id,
			Trigger:   trigger.Trigger{Type: trigger.TypeIntegration, Actor: name, Source: IntegrationSource, DeliveryID: id},
			Overrides: trigger.Overrides{Vars: call.Vars},
		}}}
		d.Note = "integration " + project + "/" + name + ": task for " + project + "/" + template
	} else {
		d.Note = "integration " + project + "/" + name + ": " + call.Reason
	}
	stored, got, isNew, err := r.store.AcceptDelivery(ctx, d, tasks)
	if err != nil {
		r.log.Error("integration call not recorded", "project", project, "integration", name, "err", err)
		return http.StatusServiceUnavailable, Answer{Status: "error", Delivery: callID, Error: "the call could not be recorded; retry"}
	}
	a := Answer{Delivery: callID, Event: "call", Tasks: refs(got), Note: stored.Note}
	if !isNew {
		a.Status = "already processed"
		return http.StatusOK, a
	}
	r.m.tasks(got)
	if len(got) > 0 {
		r.adopt(got)
		a.Status = "created"
		return http.StatusCreated, a
	}
	a.Status = "nothing"
	a.Reasons = []string{call.Reason}
	return http.StatusOK, a
}
