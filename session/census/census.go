// Package census gathers the figures an operator reads of an install:
// messages pending and failed across its sessions, and its running
// containers with their CPU and memory. `berth status` prints them and
// the web console (session/console) shows them; both gather them here, so
// they count the same way.
package census

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/sessiondb"
)

// statsTimeout bounds one container's measure: the engine takes two
// samples about a second apart.
const statsTimeout = 5 * time.Second

// Messages counts, over sessions of the install at home, the messages
// waiting for an answer and those sent since since that failed. A session
// whose inbound.db cannot be read counts nothing: the figure is a glance,
// and one broken file must not hide the rest.
func Messages(ctx context.Context, home paths.Home, sessions []data.Session, since time.Time) (pending, failed int) {
	for _, s := range sessions {
		if ctx.Err() != nil {
			break
		}
		c, err := sessiondb.Host{Dir: home.Session(s.AgentGroupID, s.ID)}.Counts(ctx, since)
		if err != nil {
			continue
		}
		pending += c.Pending
		failed += c.Failed
	}
	return pending, failed
}

// Lister lists containers by label.
type Lister interface {
	List(ctx context.Context, labels map[string]string) ([]container.Info, error)
}

// Stats measures a running container.
type Stats interface {
	Stats(ctx context.Context, id string) (container.Stats, error)
}

// The engine lists and measures.
var (
	_ Lister = (*container.Docker)(nil)
	_ Stats  = (*container.Docker)(nil)
)

// Running lists the running containers carrying labels (an install's:
// container.LabelHome), oldest first.
func Running(ctx context.Context, rt Lister, labels map[string]string) ([]container.Info, error) {
	list, err := rt.List(ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []container.Info
	for _, c := range list {
		if c.Running() {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Measure measures each container at once, by id; one the engine cannot
// measure is left out.
func Measure(ctx context.Context, rt Stats, list []container.Info) map[string]container.Stats {
	out := make(map[string]container.Stats, len(list))
	var mu sync.Mutex // guards out
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, statsTimeout)
			defer cancel()
			if st, err := rt.Stats(sctx, c.ID); err == nil {
				mu.Lock()
				out[c.ID] = st
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// Age shows a duration to the second, or the minute past an hour.
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// Bytes shows a size in binary units.
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
