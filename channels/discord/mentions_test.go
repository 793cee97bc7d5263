package discord

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord/discordtest"
)

// noPings fails unless a message lets Discord ping nobody: parse empty,
// no users, no roles, not even the author it replies to.
func noPings(t *testing.T, s discordtest.Sent) {
	t.Helper()
	am := s.AllowedMentions
	if am == nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Users) != 0 || len(am.Roles) != 0 || am.RepliedUser {
		t.Fatalf("message %.40q allows mentions %+v, want parse [] and nothing else", s.Content, am)
	}
}

// Agent text naming @everyone, @here, a role and a user is sent as
// written but pings nobody, in every part of a long reply.
func TestSendPingsNobody(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t)
	text := "@everyone @here <@&R1> <@300> <@!300> " + strings.Repeat("word ", 500)
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ReplyTo: "555", Text: text}); err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	if len(sent) < 2 || !strings.HasPrefix(sent[0].Content, "@everyone @here <@&R1> <@300> <@!300>") {
		t.Fatalf("sent %d: %.60q", len(sent), sent[0].Content)
	}
	for _, s := range sent {
		noPings(t, s)
	}
}
