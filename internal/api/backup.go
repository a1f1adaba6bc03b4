package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

// This file serves GET /api/v1/backup: a consistent copy of the state
// file taken while the daemon runs (the daemon holds the file's lock, so
// `semaphored backup` cannot open it itself).

// Backuper writes a consistent copy of the whole state file to w from one
// read transaction and returns the bytes written (state.Store). The
// Store given in Options serves backups when it implements it.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// Trailers of a backup answer. A client keeps the copy only when both are
// present and match what it received: a failure half-way through the copy
// cannot change the status any more, so it shows as missing trailers.
const (
	BackupBytesTrailer  = "X-Semaphored-Backup-Bytes"
	BackupSHA256Trailer = "X-Semaphored-Backup-Sha256"
)

// backup streams the state file. It needs an admin token valid for every
// project: the file holds every project's tasks and logs.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.projects != nil {
		return errorf(http.StatusForbidden, "token %q is limited to some projects; a backup holds every project", p.name)
	}
	b, ok := h.store.(Backuper)
	if !ok {
		return errorf(http.StatusNotImplemented, "this daemon's store cannot make backups")
	}
	// A large file takes longer than the server's write timeout: every
	// write renews the deadline instead (see deadlineWriter), so a caller
	// that stops reading is dropped.
	dw := h.newDeadlineWriter(w)
	defer dw.renew()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="state.db"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Trailer", BackupBytesTrailer+", "+BackupSHA256Trailer)
	w.WriteHeader(http.StatusOK)
	sum := sha256.New()
	start := time.Now()
	n, err := b.Backup(r.Context(), io.MultiWriter(dw, sum))
	if err != nil {
		// The status is sent; leaving the trailers out tells the client.
		h.log.ErrorContext(r.Context(), "backup failed", "token", p.name, "bytes", n, "err", err)
		return nil
	}
	w.Header().Set(BackupBytesTrailer, strconv.FormatInt(n, 10))
	w.Header().Set(BackupSHA256Trailer, hex.EncodeToString(sum.Sum(nil)))
	h.log.InfoContext(r.Context(), "backup served", "token", p.name, "bytes", n, "duration", fmt.Sprint(time.Since(start).Round(time.Millisecond)))
	return nil
}

// backupScope is the scope GET /api/v1/backup needs.
const backupScope = config.ScopeAdmin
