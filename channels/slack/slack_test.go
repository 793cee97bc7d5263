package slack

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/slack/slacktest"
)

const (
	botToken = "xoxb-test-SECRET-bot-1234"
	appToken = "xapp-test-SECRET-app-5678"
)

func start(t *testing.T, cfg func(*Config)) (*slacktest.Server, *Adapter, *channelstest.Recorder, *channelstest.Buffer) {
	t.Helper()
	fake := slacktest.New(t)
	c := Config{BotToken: botToken, AppToken: appToken, APIURL: fake.URL(), PingTimeout: 2 * time.Second}
	if cfg != nil {
		cfg(&c)
	}
	logs := &channelstest.Buffer{}
	a, err := New(c, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
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
		for _, tok := range []string{botToken, appToken} {
			if strings.Contains(logs.String(), tok) {
				t.Errorf("a token appears in the logs")
			}
		}
	})
	select {
	case <-a.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("adapter never connected")
	}
	return fake, a, rec, logs
}

func TestMentionInChannel(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	ts := fake.Mention("C1", "U1", "hello <@U2>")
	got := rec.Wait(t, 1)
	rec.Quiet(t, 1) // app_mention and message for one ts: handled once
	in := got[0]
	if in.PlatformID != "C1" || in.ThreadID != ts || in.MessageID != ts || !in.Mentioned || in.IsDM {
		t.Fatalf("inbound = %+v", in)
	}
	if in.Text != "hello @NameU2" || in.Sender.Name != "NameU1" {
		t.Fatalf("text %q sender %q", in.Text, in.Sender.Name)
	}
}

func TestDMAndThread(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	fake.DM("D1", "U1", "private")
	root := fake.Mention("C1", "U1", "start")
	fake.ThreadReply("C1", root, "U1", "more", false)
	got := rec.Wait(t, 3)
	if !got[0].IsDM || !got[0].Mentioned || got[0].ThreadID != "" {
		t.Fatalf("dm = %+v", got[0])
	}
	if got[2].ThreadID != root || got[2].Mentioned {
		t.Fatalf("thread reply = %+v", got[2])
	}
}

func TestRedeliveryHandledOnceAndAcked(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	ts := fake.NextTS()
	id := fake.Event(map[string]any{"type": "message", "channel": "D9", "user": "U1", "text": "once", "ts": ts, "channel_type": "im"})
	rec.Wait(t, 1)
	fake.Redeliver(id)
	rec.Quiet(t, 1)
	// Every delivery is acked, the redelivery too, or Slack retries it for
	// ever. There are two unless the socket was replaced meanwhile (a
	// reconnect replays what was not yet acked), so count what was sent.
	env := "env-" + id
	count := func(ids []string) int {
		n := 0
		for _, x := range ids {
			if x == env {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sent, acked := count(fake.Delivered()), count(fake.Acks())
		if sent >= 2 && acked == sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("envelope delivered %d times, acked %d times; want every delivery acked", sent, acked)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandlerErrorLeavesUnacked(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	rec.SetFail(true)
	id := fake.Event(map[string]any{"type": "message", "channel": "D9", "user": "U1", "text": "x", "ts": fake.NextTS(), "channel_type": "im"})
	time.Sleep(300 * time.Millisecond)
	for _, a := range fake.Acks() {
		if a == "env-"+id {
			t.Fatal("acked a message that was not stored")
		}
	}
	rec.SetFail(false)
	fake.Redeliver(id) // Slack retries; now it is stored and acked
	rec.Wait(t, 1)
}

func TestIgnoresBotsEditsAndBadInput(t *testing.T) {
	t.Parallel()
	fake, _, rec, logs := start(t, nil)
	ts := fake.NextTS()
	fake.Event(map[string]any{"type": "message", "channel": "C1", "user": slacktest.BotUserID, "text": "my own", "ts": ts})
	fake.Event(map[string]any{"type": "message", "channel": "C1", "bot_id": "B2", "text": "other bot", "ts": fake.NextTS()})
	fake.Event(map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "ts": fake.NextTS()})
	fake.Event(map[string]any{"type": "reaction_added", "user": "U1"})
	fake.Inject([]byte(`{"type":"events_api","envelope_id":"bad1","payload":{"type":"event_callback","event":"not an object"}}`))
	fake.Inject([]byte(`{"type":"events_api","envelope_id":"bad2","payload":{"type":"event_callback","event":{"type":"message","channel":"C1"}}}`))
	fake.Inject([]byte(`this is not json`))
	fake.Event(map[string]any{"type": "message", "channel": "D1", "user": "U1", "text": "", "ts": fake.NextTS(), "channel_type": "im"})
	fake.Event(map[string]any{"type": "message", "subtype": "file_share", "channel": "D1", "user": "U1", "text": "", "ts": fake.NextTS(),
		"channel_type": "im", "files": []map[string]any{{"name": "a.png", "mimetype": "image/png", "size": 10, "url_private": "https://x"}}})
	big := strings.Repeat("b", 45000)
	fake.Event(map[string]any{"type": "message", "channel": "D1", "user": "U1", "text": big, "ts": fake.NextTS(), "channel_type": "im"})
	fake.DM("D1", "U1", "still listening")
	got := rec.Wait(t, 4)
	rec.Quiet(t, 4)
	if got[0].Text != "" || len(got[1].Attachments) != 1 || len(got[2].Text) != maxText || got[3].Text != "still listening" {
		t.Fatalf("got %d: empty %.20q, files %+v, big %d, last %.20q", len(got), got[0].Text, got[1].Attachments, len(got[2].Text), got[3].Text)
	}
	if !strings.Contains(logs.String(), "malformed") {
		t.Error("malformed events were not logged")
	}
}

func TestSendSplitsLongRepliesInOrder(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		b.WriteString("paragraph " + strings.Repeat("word ", 40) + "\n\n")
	}
	text := b.String()
	first, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: "1700.1", Text: text, Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	posts := fake.Posted()
	if len(posts) < 3 || first != posts[0].TS || posts[0].Key != "k1" {
		t.Fatalf("%d posts, first %q key %q", len(posts), first, posts[0].Key)
	}
	var joined []string
	for _, p := range posts {
		if utf8.RuneCountInString(p.Text) > MaxChars || p.ThreadTS != "1700.1" || !strings.Contains(p.Blocks, `"markdown"`) {
			t.Fatalf("post %+v", p)
		}
		joined = append(joined, strings.Fields(p.Text)...)
	}
	if strings.Join(joined, " ") != strings.Join(strings.Fields(text), " ") {
		t.Fatal("the parts do not add up to the reply, in order")
	}
	// Confirm finds the reply by its key; an unknown key is not found.
	if ts, ok, err := a.Confirm(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: "1700.1", Key: "k1"}); err != nil || !ok || ts != first {
		t.Fatalf("confirm = %q %v %v", ts, ok, err)
	}
	if _, ok, _ := a.Confirm(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: "1700.1", Key: "nope"}); ok {
		t.Fatal("confirmed a reply that was never sent")
	}
}

func TestSendWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	fake.RateLimitNext(2, 1)
	start := time.Now()
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: "after 429"}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second || len(fake.Posted()) != 1 {
		t.Fatalf("sent after %v, %d posts", time.Since(start), len(fake.Posted()))
	}
}

func TestReconnects(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t, func(c *Config) { c.PingTimeout = 700 * time.Millisecond })
	fake.DM("D1", "U1", "one")
	rec.Wait(t, 1)
	fake.Disconnect()
	waitFor(t, func() bool { return a.State().Reconnects >= 1 && fake.LiveSockets() == 1 })
	fake.DM("D1", "U1", "two")
	rec.Wait(t, 2)
	fake.DropSocket()
	waitFor(t, func() bool { return a.State().Reconnects >= 2 && fake.LiveSockets() == 1 })
	fake.DM("D1", "U1", "three")
	rec.Wait(t, 3)
	// Connected but deaf: the server stops pinging; the client notices and
	// reconnects by itself, keeping one socket.
	opens := fake.Opens()
	fake.StopPings()
	waitFor(t, func() bool { return fake.Opens() > opens })
	// The fake notices the old socket close a moment after the client does.
	waitFor(t, func() bool { return fake.LiveSockets() <= 1 })
}

func TestBadTokens(t *testing.T) {
	for _, c := range []Config{{BotToken: "nope", AppToken: appToken}, {BotToken: botToken, AppToken: "xoxb-wrong"}} {
		_, err := New(c, nil)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v", err)
		}
	}
	fake := slacktest.New(t)
	a, _ := New(Config{BotToken: "xoxb-invalid", AppToken: appToken, APIURL: fake.URL()}, nil)
	err := a.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SLACK_BOT_TOKEN") || strings.Contains(err.Error(), "xoxb-invalid") {
		t.Fatalf("check = %v", err)
	}
}

func TestMissedFromHistory(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	seen := fake.Offline("C1", "U1", "<@UBOT> before")
	fake.Offline("C1", "U1", "while away 1")
	fake.Offline("C1", "U1", "<@UBOT> while away 2")
	got, err := a.Missed(context.Background(), "C1", seen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != "while away 1" || got[1].Text != "while away 2" || !got[1].Mentioned || got[0].Mentioned {
		t.Fatalf("missed = %+v", got)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	waitForState(t, ok, func() string { return "" })
}

// waitForState is waitFor that says, if ok never holds, what state said
// at the end.
func waitForState(t *testing.T, ok func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition never held: %s", state())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","user":"U1","text":"<@UBOT> hi","ts":"1.2","channel":"C1"}}`))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"message","subtype":"file_share","user":"U1","ts":"1.2","channel":"D1","channel_type":"im","files":[{"name":"x"}]}}`))
	f.Add([]byte(`{"type":"event_callback","event":"x"}`))
	f.Add([]byte(`{"type":"url_verification"}`))
	f.Add([]byte(`{"command":"/berth","text":"help","channel_id":"C1","user_id":"U1"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := decodeEventsAPI(payload, bot{UserID: "UBOT", BotID: "BBOT"})
		if err == nil && d.Skip == "" && (d.In.PlatformID == "" || d.In.MessageID == "" || len(d.In.Text) > maxText) {
			t.Fatalf("accepted an incomplete message: %+v", d.In)
		}
		decodeSlash(payload)
	})
}

func TestSlashCommandBecomesChatCommand(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	fake.Inject([]byte(`{"type":"slash_commands","envelope_id":"sc1","payload":{"command":"/berth","text":"status","channel_id":"C1","user_id":"U1","trigger_id":"tr1"}}`))
	got := rec.Wait(t, 1)
	if got[0].Text != "!status" || !got[0].Mentioned || got[0].PlatformID != "C1" || got[0].Sender.ID != "U1" {
		t.Fatalf("slash command = %+v", got[0])
	}
}

// Each state replaces the message's reaction with its own, and in a
// thread sets the assistant status line, cleared when the message is done.
func TestStatusReactionsAndStatusLine(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	fake.AllowAssistantStatus()
	target := channels.Target{PlatformID: "C1", ThreadID: "100.1", MessageID: "100.2"}
	var reacts, lines []string
	for _, c := range []struct {
		s           channels.Status
		add, remove string
		line        string
	}{
		{channels.Status{State: channels.StateQueued, Ahead: 2}, "hourglass_flowing_sand", "", "is queued (2 ahead)…"},
		{channels.Status{State: channels.StateQueued, Ahead: 1}, "", "", "is queued (1 ahead)…"},
		{channels.Status{State: channels.StateStarting}, "gear", "hourglass_flowing_sand", "is starting up…"},
		{channels.Status{State: channels.StateWorking}, "eyes", "gear", "is thinking…"},
		{channels.Status{State: channels.StateRetrying, Detail: "the container exited"}, "repeat", "eyes", "is retrying…"},
		{channels.Status{State: channels.StateFailed, Detail: "out of memory"}, "x", "repeat", ""},
	} {
		a.Status(context.Background(), target, c.s)
		if c.add != "" {
			reacts = append(reacts, "add "+c.add+" 100.2")
		}
		if c.remove != "" {
			reacts = append(reacts, "remove "+c.remove+" 100.2")
		}
		lines = append(lines, "C1 100.1 "+c.line)
		waitFor(t, func() bool { return len(fake.Reactions()) >= len(reacts) && len(fake.Statuses()) >= len(lines) })
		if got := fake.Reactions(); !slices.Equal(got, reacts) {
			t.Fatalf("after %v: reactions %q, want %q", c.s, got, reacts)
		}
		if got := fake.Statuses(); !slices.Equal(got, lines) {
			t.Fatalf("after %v: status lines %q, want %q", c.s, got, lines)
		}
	}
}

// An app Slack refuses the assistant status line is asked once, not on
// every change; a message outside a thread has no status line.
func TestStatusLineRefusedAskedOnce(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	top := channels.Target{PlatformID: "C1", MessageID: "200.1"}
	threaded := channels.Target{PlatformID: "C1", ThreadID: "200.1", MessageID: "200.2"}
	n := 0
	for _, tg := range []channels.Target{top, threaded, {PlatformID: "C1", ThreadID: "200.1", MessageID: "200.3"}} {
		for _, st := range []channels.State{channels.StateWorking, channels.StateDone} {
			a.Status(context.Background(), tg, channels.Status{State: st})
			n += map[channels.State]int{channels.StateWorking: 1, channels.StateDone: 2}[st] // add; add and remove
			waitFor(t, func() bool { return len(fake.Reactions()) == n })
		}
	}
	if got := fake.Statuses(); len(got) != 1 || got[0] != "C1 200.1 is thinking…" {
		t.Fatalf("status lines asked for %q, want one, for the thread", got)
	}
}
