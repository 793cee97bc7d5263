package discord

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/discord/discordtest"
)

const token = "test-SECRET-discord-token"

func start(t *testing.T) (*discordtest.Server, *Adapter, *channelstest.Recorder, chan error) {
	t.Helper()
	fake := discordtest.New(t)
	logs := &channelstest.Buffer{}
	a, err := New(Config{Token: token, APIURL: fake.APIURL()}, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	rec := &channelstest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, rec.Handle) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if strings.Contains(logs.String(), token) {
			t.Error("the token appears in the logs")
		}
	})
	select {
	case <-a.ready:
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("never connected")
	}
	return fake, a, rec, done
}

func TestMentionsDMsAndThreads(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t)
	fake.SetBotRoles("R1")
	fake.Mention("C1", "G1", "200", "hello <@300>")
	fake.Message("C1", "G1", "200", "just chatting")
	fake.DM("D1", "200", "private")
	fake.ThreadCreate("T1", "C1", "G1")
	fake.Mention("T1", "G1", "200", "in a thread")
	fake.MessageWith("C1", "G1", "200", "<@&R1> role ping", map[string]any{"mention_roles": []string{"R1"}})
	botMsg := map[string]any{"id": "42", "channel_id": "C1", "content": "earlier", "author": map[string]any{"id": discordtest.BotID, "username": "berth"}}
	fake.MessageWith("C1", "G1", "200", "replying", map[string]any{"type": 19, "referenced_message": botMsg})
	got := rec.Wait(t, 6)
	if in := got[0]; !in.Mentioned || in.Text != "hello <@300>" || in.IsDM || in.PlatformID != "C1" || in.Sender.Name != "user200" {
		t.Fatalf("mention = %+v", in)
	}
	if got[1].Mentioned || got[1].Text != "just chatting" {
		t.Fatalf("plain = %+v", got[1])
	}
	if !got[2].IsDM || !got[2].Mentioned {
		t.Fatalf("dm = %+v", got[2])
	}
	if got[3].PlatformID != "T1" || got[3].ParentID != "C1" {
		t.Fatalf("thread = %+v", got[3])
	}
	if !got[4].Mentioned || !got[5].Mentioned {
		t.Fatalf("role mention %v, reply to bot %v", got[4].Mentioned, got[5].Mentioned)
	}
}

func TestIgnoresBotsAndBadInput(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t)
	fake.Dispatch("MESSAGE_CREATE", map[string]any{"id": "1", "channel_id": "C1", "content": "no author"})
	fake.Dispatch("MESSAGE_CREATE", map[string]any{"id": "2", "channel_id": "C1", "author": map[string]any{"id": "200"}, "content": "no timestamp"})
	fake.Dispatch("SOMETHING_NEW", map[string]any{"x": 1})
	fake.Dispatch("MESSAGE_CREATE", map[string]any{"id": "3", "channel_id": "C1", "content": "mine", "author": map[string]any{"id": discordtest.BotID}})
	fake.Dispatch("MESSAGE_CREATE", map[string]any{"id": "4", "channel_id": "C1", "content": "beep", "author": map[string]any{"id": "900", "bot": true}})
	fake.MessageWith("C1", "G1", "200", "", map[string]any{"attachments": []map[string]any{{"id": "a1", "filename": "f.png", "size": 10, "url": "https://x/f.png"}}})
	fake.DM("D1", "200", "still here")
	rec.Wait(t, 3)
	time.Sleep(200 * time.Millisecond)
	got := rec.All()
	if len(got) != 3 || got[0].Text != "no timestamp" || len(got[1].Attachments) != 1 || got[2].Text != "still here" {
		t.Fatalf("got %+v", got)
	}
}

func TestSendSplitsWithBalancedFences(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t)
	var b strings.Builder
	b.WriteString(strings.Repeat("Intro words here. ", 60) + "\n\n```go\n")
	for b.Len() < 4500 {
		b.WriteString("fmt.Println(\"a line inside the code block\")\n")
	}
	b.WriteString("```\n\nThe end.")
	first, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ReplyTo: "555", Text: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	if len(sent) < 3 || sent[0].ID != first || sent[0].ReplyTo != "555" || sent[1].ReplyTo != "" {
		t.Fatalf("sent %d, first %+v", len(sent), sent[0])
	}
	for _, s := range sent {
		if utf8.RuneCountInString(s.Content) > MaxChars || strings.Count(s.Content, "```")%2 != 0 {
			t.Fatalf("chunk of %d runes, %d fences", utf8.RuneCountInString(s.Content), strings.Count(s.Content, "```"))
		}
	}
	if !strings.HasSuffix(sent[len(sent)-1].Content, "The end.") {
		t.Fatal("out of order")
	}
	if id, ok, err := a.Confirm(context.Background(), channels.Outbound{PlatformID: "C1", ReplyTo: "555", Text: b.String()}); err != nil || !ok || id != first {
		t.Fatalf("confirm = %q %v %v", id, ok, err)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t)
	fake.RateLimitNext(1, 0.5)
	begin := time.Now()
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) < 400*time.Millisecond || len(fake.Sent()) != 1 {
		t.Fatalf("after %v, %d sent", time.Since(begin), len(fake.Sent()))
	}
}

func TestReconnectResumesAndLosesNothing(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t)
	fake.DM("D1", "200", "one")
	rec.Wait(t, 1)
	fake.Reconnect()
	fake.DM("D1", "200", "two") // may land while the client reconnects: the resume replays it
	got := rec.Wait(t, 2)
	if got[1].Text != "two" {
		t.Fatalf("got %+v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fake.Resumes() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no resume")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fake.DM("D1", "200", "three")
	if got := rec.Wait(t, 3); got[2].Text != "three" || len(rec.All()) != 3 {
		t.Fatalf("after resume: %+v", got)
	}
	if a.State().Reconnects < 1 {
		t.Fatal("reconnect not counted")
	}
}

func TestDisallowedIntentStops(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.CloseNextIdentify(4014)
	a, _ := New(Config{Token: token, APIURL: fake.APIURL()}, nil)
	err := a.Run(context.Background(), (&channelstest.Recorder{}).Handle)
	if err == nil || !strings.Contains(err.Error(), "Message Content Intent") || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v", err)
	}
	fake.CloseNextIdentify(4004)
	a, _ = New(Config{Token: token, APIURL: fake.APIURL()}, nil)
	if err := a.Run(context.Background(), (&channelstest.Recorder{}).Handle); err == nil || !strings.Contains(err.Error(), "DISCORD_BOT_TOKEN") {
		t.Fatalf("4004 err = %v", err)
	}
	bad, _ := New(Config{Token: "invalid", APIURL: fake.APIURL()}, nil)
	if err := bad.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "DISCORD_BOT_TOKEN") {
		t.Fatalf("check = %v", err)
	}
}

// Each state replaces the message's reaction with its own; typing shows
// only while the message is worked on.
func TestStatusReactionsAndTyping(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t)
	target := channels.Target{PlatformID: "C9", MessageID: "77"}
	var want []string
	for _, c := range []struct {
		state  channels.State
		add    string
		remove string
	}{
		{channels.StateQueued, "\u23f3", ""},
		{channels.StateStarting, "\u2699\ufe0f", "\u23f3"},
		{channels.StateWorking, "\U0001f440", "\u2699\ufe0f"},
		{channels.StateRetrying, "\U0001f501", "\U0001f440"},
		{channels.StateWorking, "\U0001f440", "\U0001f501"},
		{channels.StateDone, "\u2705", "\U0001f440"},
	} {
		typed := len(fake.Typing())
		a.Status(context.Background(), target, channels.Status{State: c.state})
		want = append(want, "add "+c.add+" 77")
		if c.remove != "" {
			want = append(want, "remove "+c.remove+" 77")
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(fake.Reactions()) < len(want) || (c.state == channels.StateWorking && len(fake.Typing()) == typed) {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: reactions %q, typing %d times; want reactions %q and typing while working", c.state, fake.Reactions(), len(fake.Typing()), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got := fake.Reactions(); !slices.Equal(got, want) {
			t.Fatalf("after %s: reactions %q, want %q", c.state, got, want)
		}
	}
	n := len(fake.Typing())
	time.Sleep(200 * time.Millisecond)
	if len(fake.Typing()) != n {
		t.Fatal("typing went on after done")
	}
}

func TestMissedAfterHighWater(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t)
	first := fake.DM("D1", "200", "seen")
	rec.Wait(t, 1)
	fake.DM("D1", "200", "later one")
	fake.DM("D1", "200", "later two")
	got, err := a.Missed(context.Background(), "D1", first, time.Time{})
	if err != nil || len(got) != 2 || got[0].Text != "later one" || got[1].Text != "later two" {
		t.Fatalf("missed = %+v, %v", got, err)
	}
}

func TestInviteURL(t *testing.T) {
	u := InviteURL("123")
	if !strings.Contains(u, "client_id=123") || !strings.Contains(u, "scope=bot+applications.commands") || !strings.Contains(u, "permissions=") {
		t.Fatal(u)
	}
}

func FuzzDecodeDispatch(f *testing.F) {
	f.Add([]byte(`{"id":"1","channel_id":"C1","guild_id":"G1","author":{"id":"200"},"content":"<@100> hi","mentions":[{"id":"100"}]}`))
	f.Add([]byte(`{"id":"2","channel_id":"D1","author":{"id":"200"},"content":"","attachments":[{"filename":"x"}]}`))
	f.Add([]byte(`{"id":"3","channel_id":"C1","author":{"id":"100"},"content":"mine"}`))
	f.Add([]byte(`{"referenced_message":{"author":{"id":"100"}},"id":"4","channel_id":"C1","author":{"id":"2"},"content":"x","type":19}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, d []byte) {
		var m discordgo.Message
		if json.Unmarshal(d, &m) != nil {
			return
		}
		in, skip := decodeMessage(&m, me{UserID: "100", Roles: map[string]bool{"R1": true}})
		if skip == "" && (in.PlatformID == "" || in.MessageID == "" || in.Sender.ID == "100") {
			t.Fatalf("accepted %+v", in)
		}
	})
}

func TestSlashCommandBecomesChatCommand(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t)
	fake.Dispatch("INTERACTION_CREATE", map[string]any{"id": "I1", "application_id": discordtest.BotID, "type": 2, "token": "tok",
		"channel_id": "C1", "guild_id": "G1", "member": map[string]any{"user": map[string]any{"id": "200", "username": "ann"}},
		"data": map[string]any{"id": "cmd1", "name": "berth", "type": 1, "options": []map[string]any{{"name": "command", "type": 3, "value": "status"}}}})
	got := rec.Wait(t, 1)
	if got[0].Text != "!status" || !got[0].Mentioned || got[0].PlatformID != "C1" || got[0].Sender.ID != "200" {
		t.Fatalf("slash command = %+v", got[0])
	}
}
