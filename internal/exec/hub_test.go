package exec

import (
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
)

func TestHub(t *testing.T) {
	var h Hub
	h.Notify(1) // nobody follows: nothing to wake, nothing kept
	a, releaseA := h.Watch(1)
	b, releaseB := h.Watch(1)
	if a != b {
		t.Fatal("two followers of one task got different channels")
	}
	h.Notify(2)
	select {
	case <-a:
		t.Fatal("a notification of task 2 woke a follower of task 1")
	default:
	}
	h.Notify(1)
	select {
	case <-a:
	default:
		t.Fatal("Notify(1) did not wake the follower")
	}
	// After a notification, Watch gives the next change's channel.
	next, releaseNext := h.Watch(1)
	select {
	case <-next:
		t.Fatal("the new channel is closed before the next change")
	default:
	}
	releaseA()
	releaseB()
	if n := h.followed(); n != 1 {
		t.Errorf("got %d followed tasks, want 1", n)
	}
	releaseNext()
	if n := h.followed(); n != 0 {
		t.Errorf("got %d followed tasks after every release, want 0", n)
	}
}

// countingFollowers is a Followers that counts notifications per task,
// around a Hub: a second implementation plugs in through the seam.
type countingFollowers struct {
	Hub
	mu sync.Mutex
	n  map[uint64]int
}

func (c *countingFollowers) Notify(id uint64) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[uint64]int{}
	}
	c.n[id]++
	c.mu.Unlock()
	c.Hub.Notify(id)
}

func TestFollowersSeam(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a"})
	f := newFakeRunner()
	cf := &countingFollowers{}
	h := newHarness(t, cfg, withRun(f.run), func(o *Options) { o.Followers = cf })
	tk := h.submit("p", "a")
	r := f.next(t)
	if err := r.sink.WriteLine(time.Now(), "hello"); err != nil {
		t.Fatal(err)
	}
	r.end(runner.Success)
	h.wait(tk.ID, state.StatusSuccess) // waits on cf's channels
	cf.mu.Lock()
	defer cf.mu.Unlock()
	// queued, starting, running, a log batch, success (at least).
	if got := cf.n[tk.ID]; got < 5 {
		t.Errorf("got %d notifications of task %d, want at least 5", got, tk.ID)
	}
}
