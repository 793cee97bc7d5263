package sessiondb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPoolFollowsTheFileAtThePath: a kept connection is used only while
// its file is the one at the path; a file set aside (as the host does to
// a refused outbound.db) or removed and made again gets a new connection,
// and nothing is written to the old inode.
func TestPoolFollowsTheFileAtThePath(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, c Container)
	}{
		{"set aside", func(t *testing.T, c Container) {
			if err := os.Rename(c.OutboundPath(), c.OutboundPath()+".aside"); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed and made again", func(t *testing.T, c Container) {
			if err := os.Rename(c.OutboundPath(), c.OutboundPath()+".aside"); err != nil {
				t.Fatal(err)
			}
			if err := (Container{InDir: c.InDir, OutDir: c.OutDir}).Init(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, c := newSession(t)
			if _, err := h.Append(ctx, chat("a", "one"), chat("b", "two")); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second claim is on a kept connection
				if err := c.Claim(ctx, "a"); err != nil {
					t.Fatal(err)
				}
			}
			if _, kept := keptConn(poolKey{file: c.OutboundPath(), write: true}); !kept {
				t.Fatal("the runner's write connection to outbound.db was not kept")
			}
			tc.replace(t, c)
			if err := c.Claim(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			acks, err := h.Acks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := acks["b"]; !ok {
				t.Fatalf("the claim after the file was replaced is not in the file at the path: acks %v", acks)
			}
			if _, ok := acks["a"]; ok {
				t.Fatalf("the fresh file has the old file's claim: acks %v", acks)
			}
			old := Host{Dir: filepath.Dir(c.OutDir)}
			if err := os.Rename(c.OutboundPath()+".aside", c.OutboundPath()); err != nil {
				t.Fatal(err)
			}
			acks, err = old.Acks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := acks["b"]; ok {
				t.Fatal("the claim after the file was replaced went to the old inode")
			}
		})
	}
}

// TestPoolSeesTheOtherSidesWrites: a kept read connection reads what
// another connection committed since its last read.
func TestPoolSeesTheOtherSidesWrites(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	for i, id := range []string{"a", "b", "c"} {
		if _, err := h.Append(ctx, chat(id, "text")); err != nil {
			t.Fatal(err)
		}
		due, err := c.Due(ctx, time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != i+1 || due[i].ID != id {
			t.Fatalf("after appending %s the runner sees %+v", id, due)
		}
	}
	if _, kept := keptConn(poolKey{file: c.InboundPath()}); !kept {
		t.Fatal("the runner's read connection to inbound.db was not kept")
	}
}

// keptConn reports whether the pool keeps a connection for k.
func keptConn(k poolKey) (*pooled, bool) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	p, ok := pool.m[k]
	return p, ok
}
