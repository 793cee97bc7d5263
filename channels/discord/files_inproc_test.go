package discord_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord"
	"github.com/berth-dev/berth/channels/discord/discordtest"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// berth crashes after Discord took a message with a file but before berth
// recorded it: the next gateway finds the message and does not post again.
func TestDiscordUploadCutByCrashNotDoubledInProcess(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	start := func(home string) *gatewaytest.Gateway {
		a, err := discord.New(discord.Config{Token: "e2e-token", APIURL: fake.APIURL()}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return gatewaytest.Start(t, gatewaytest.Options{Home: home, Runtime: rt, Channels: []channels.Channel{a}})
	}
	g := start("")
	g.Wire("discord", "D1", gatewaytest.Wire{IsDM: true})
	fake.SlowNextFiles(1, time.Minute)
	fake.DM("D1", "200", "file a.txt first")
	fake.WaitSent(t, 1, 30*time.Second) // Discord has it; berth's call hangs
	g.Crash()

	again := start(g.Home)
	fake.DM("D1", "200", "file b.txt second")
	fake.WaitSent(t, 2, 30*time.Second)
	again.WaitIdle(30 * time.Second)
	time.Sleep(300 * time.Millisecond) // a doubled post would come now
	n := map[string]int{}
	sent := fake.Sent()
	for _, s := range sent {
		for _, f := range s.Files {
			n[f.Name+"="+string(f.Bytes)]++
		}
	}
	if len(sent) != 2 || n["a.txt=first"] != 1 || n["b.txt=second"] != 1 {
		t.Fatalf("after a crash mid-upload: %d messages, files %v; want a.txt and b.txt once each", len(sent), n)
	}
}
