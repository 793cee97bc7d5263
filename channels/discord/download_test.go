package discord

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord/discordtest"
)

// An attachment arrives with its CDN address, which the adapter
// downloads; a redirect off Discord's file hosts is refused.
func TestAttachmentIsFetched(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t)
	body := []byte("id,name\n1,Ann\n")
	att := fake.Attach(discordtest.Attachment{Name: "people.csv", ContentType: "text/csv", Body: body})
	fake.MessageWith("D1", "", "200", "see file", map[string]any{"attachments": []any{att}})
	in := rec.Wait(t, 1)[0]
	if len(in.Attachments) != 1 || in.Attachments[0].Name != "people.csv" || in.Attachments[0].Size != int64(len(body)) {
		t.Fatalf("attachments = %+v", in.Attachments)
	}
	var buf bytes.Buffer
	if err := a.Fetch(context.Background(), in.Attachments[0], &buf, 1<<20); err != nil || !bytes.Equal(buf.Bytes(), body) {
		t.Fatalf("fetched %q, %v", buf.Bytes(), err)
	}
	if n := fake.Fetches(att); n != 1 {
		t.Fatalf("%d downloads", n)
	}

	var elsewhere atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(evil.Close)
	redirect := fake.Attach(discordtest.Attachment{Name: "r.png", ContentType: "image/png", RedirectTo: evil.URL + "/r.png"})
	for _, tc := range []struct {
		name string
		att  channels.Attachment
		want string
	}{
		{"redirect to another host", channels.Attachment{Name: "r.png", URL: redirect["url"].(string)}, "refused"},
		{"address on another host", channels.Attachment{Name: "x", URL: evil.URL + "/x"}, "not on a Discord file host"},
		{"missing", channels.Attachment{Name: "x", URL: fake.APIURL() + "/attachments/1/9/x"}, "404"},
	} {
		err := a.Fetch(context.Background(), tc.att, &bytes.Buffer{}, 1<<20)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, channels.ErrUnfetchable) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("%d requests reached another host", n)
	}
}
