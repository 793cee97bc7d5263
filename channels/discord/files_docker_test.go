package discord_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The agent's file reaches the conversation as a multipart message with
// the attachment's bytes and the reply text as its content.
func TestDiscordAgentSendsFile(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	id := fake.Mention("C1", "G1", "200", "file notes.md # Notes\nberth sends files")
	sent := fake.WaitSent(t, 1, 90*time.Second)
	s := sent[0]
	if s.ChannelID != "C1" || s.ReplyTo != id || s.Content != "echo: file notes.md" {
		t.Fatalf("message = %+v", s)
	}
	if len(s.Files) != 1 || s.Files[0].Name != "notes.md" || string(s.Files[0].Bytes) != "# Notes\nberth sends files" {
		t.Fatalf("attachments = %+v", s.Files)
	}
	if s.AllowedMentions == nil || s.AllowedMentions.Parse == nil || len(s.AllowedMentions.Parse) != 0 {
		t.Fatalf("a message with files may ping: %+v", s.AllowedMentions)
	}
}

// A file over Discord's limit is not posted; the person is told in the
// reply, and a symlink planted in the outbox (to a decoy of the test's
// own) is not followed.
func TestDiscordFileRefused(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.DM("D1", "200", "filesize big.bin 10485761") // 10 MiB + 1, sparse
	sent := fake.WaitSent(t, 1, 90*time.Second)
	if len(sent[0].Files) != 0 || !strings.Contains(sent[0].Content, "big.bin was not sent: it is 10.0 MiB; the platform takes at most 10.0 MiB") {
		t.Fatalf("message = %+v", sent[0])
	}
	decoy := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(decoy, []byte("DECOY"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake.DM("D1", "200", "filelink secret.txt "+decoy)
	sent = fake.WaitSent(t, 2, 60*time.Second)
	if len(sent[1].Files) != 0 || !strings.Contains(sent[1].Content, "secret.txt was not sent: it is a symbolic link") {
		t.Fatalf("message = %+v", sent[1])
	}
}
