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

// The answer to a slash command quotes what the person typed; breaking
// out of its code span with a backtick still pings nobody.
func TestSlashAnswerPingsNobody(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t)
	fake.Dispatch("INTERACTION_CREATE", map[string]any{"id": "I1", "application_id": discordtest.BotID, "type": 2, "token": "tok",
		"channel_id": "C1", "guild_id": "G1", "member": map[string]any{"user": map[string]any{"id": "200", "username": "ann"}},
		"data": map[string]any{"id": "cmd1", "name": "berth", "type": 1, "options": []map[string]any{{"name": "command", "type": 3, "value": "x` @everyone <@&R1> `"}}}})
	rec.Wait(t, 1)
	r := fake.Responses()
	if len(r) != 1 || !strings.Contains(r[0].Content, "@everyone") {
		t.Fatalf("responses %+v", r)
	}
	noPings(t, r[0])
}
