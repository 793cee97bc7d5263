package discord

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels"
)

// A notice of berth's own with Outbound.Mention pings that one user and
// nobody else, whatever its text names; a mention that is not a Discord
// user id is ignored.
func TestSendMentionPingsOnlyThatUser(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t)
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Mention: "300",
		Text: "berth: scheduled task t2abcd failed @everyone <@&R1> <@400>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Mention: "<@&R1>", Text: "not an id"}); err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	if len(sent) != 2 || !strings.HasPrefix(sent[0].Content, "<@300> berth: scheduled task") {
		t.Fatalf("sent %+v", sent)
	}
	am := sent[0].AllowedMentions
	if am == nil || am.Parse == nil || len(am.Parse) != 0 || !slices.Equal(am.Users, []string{"300"}) || len(am.Roles) != 0 || am.RepliedUser {
		t.Fatalf("the notice allows mentions %+v, want user 300 only", am)
	}
	noPings(t, sent[1])
	if strings.Contains(sent[1].Content, "<@&R1> not") {
		t.Fatalf("a bad mention was written: %q", sent[1].Content)
	}
}
