package state

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestPruneDeliveriesPastPending: more old pending deliveries than one
// pruning transaction looks at do not hide the old done ones behind them.
func TestPruneDeliveriesPastPending(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	start := c.Now()
	accept := func(id string, pending bool) {
		t.Helper()
		c.Add(time.Second)
		if _, _, _, err := s.AcceptDelivery(ctx, Delivery{Source: "github", ID: id, Pending: pending, Payload: []byte("{}")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pruneBatch + 20 {
		accept(fmt.Sprint("pending-", i), true)
	}
	for i := range 30 {
		accept(fmt.Sprint("done-", i), false)
	}
	batches := 0
	s.afterPruneBatch = func() { batches++ }
	n, err := s.PruneDeliveries(ctx, start.Add(time.Duration(pruneBatch+40)*time.Second+time.Millisecond))
	if err != nil || n != 20 {
		t.Errorf("PruneDeliveries = %d, %v; want the 20 done deliveries in range", n, err)
	}
	if batches < 2 {
		t.Errorf("pruned in %d transactions, want at least 2", batches)
	}
	pending, err := s.PendingDeliveries(ctx)
	if err != nil || len(pending) != pruneBatch+20 {
		t.Errorf("PendingDeliveries = %d, %v; want %d kept", len(pending), err, pruneBatch+20)
	}
	if _, _, err := s.Delivery(ctx, "github", "done-25"); err != nil {
		t.Errorf("done-25 (after the cutoff): %v, want kept", err)
	}
}
