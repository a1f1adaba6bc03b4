package state

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestGroupCommit runs many writers through one groupCommit, some of
// which fail: every other write is stored, every failure reported to its
// caller alone, and the writes shared transactions.
func TestGroupCommit(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	g := &groupCommit{db: db}
	const n = 200
	errs := make([]error, n)
	var (
		mu   sync.Mutex
		txs  = map[*bbolt.Tx]bool{}
		runs = map[int]int{}
		wg   sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			errs[i] = g.do(func(tx *bbolt.Tx) error {
				mu.Lock()
				txs[tx] = true
				runs[i]++
				mu.Unlock()
				if i%7 == 3 {
					return fmt.Errorf("write %d: %w", i, errBoom)
				}
				return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "%03d", i), []byte{1})
			})
		})
	}
	wg.Wait()
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i := range n {
			failing := i%7 == 3
			stored := b.Get(fmt.Appendf(nil, "%03d", i)) != nil
			if failing != errors.Is(errs[i], errBoom) {
				t.Errorf("write %d: got error %v, want failure %v", i, errs[i], failing)
			}
			if !failing && errs[i] != nil {
				t.Errorf("write %d: %v", i, errs[i])
			}
			if stored == failing {
				t.Errorf("write %d: stored %v, want %v", i, stored, !failing)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reruns := 0
	for _, r := range runs {
		reruns += r - 1
	}
	t.Logf("%d writes in %d transactions, %d reruns after a failure in the same transaction", n, len(txs), reruns)
}

var errBoom = errors.New("boom")
