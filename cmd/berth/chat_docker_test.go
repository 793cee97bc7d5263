package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

func berthCmd(t *testing.T, home string, args ...string) *exec.Cmd {
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	cmd := exec.Command(berthBinary(t), append(args, "--image", gatewaytest.Image)...)
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	return cmd
}

func TestChatPipe(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cmd := berthCmd(t, home, "chat", "--provider", "echo")
	cmd.Stdin = strings.NewReader("hi\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("berth chat: %v\n%s", err, stderr.String())
	}
	if string(out) != "echo: hi\n" {
		t.Fatalf("stdout = %q", out)
	}
	// The image is there: the first container's start and who answers,
	// on stderr, nothing more.
	wantErr := "berth: starting the agent's container…\n" +
		"berth: the echo provider answers (it repeats what you type); for a real model: " + echoSwitch + "\n"
	if stderr.String() != wantErr {
		t.Errorf("stderr = %q\nwant     %q", stderr.String(), wantErr)
	}
	assertNoContainers(t, home)
}

func TestChatBadInput(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cmd := berthCmd(t, home, "chat")
	var in bytes.Buffer
	in.WriteString("\n")                              // empty
	in.WriteString(strings.Repeat("y", 1<<20) + "\n") // 1 MB
	in.WriteString("bad \xff\xfe utf-8\n")            // invalid UTF-8
	in.WriteString("\x01\x02\x03\x1b[2J\x7f\n")       // control characters
	in.WriteString("still alive\n")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("berth chat: %v\n%s", err, stderr.String())
	}
	got := string(out)
	for _, want := range []string{"message is empty", "message is too long", "echo: bad \uFFFD utf-8", "echo: [2J", "echo: still alive"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%.400s", want, got)
		}
	}
}

// TestKilledWithMessagesPending SIGKILLs berth while messages wait for
// their answers, starts it again, and checks every message is answered
// exactly once with never two containers for the session.
func TestKilledWithMessagesPending(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	const n = 8
	cmd := berthCmd(t, home, "chat")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(stdin, "sleep 300ms m%d\n", i)
	}
	replies := map[string]int{}
	sc := bufio.NewScanner(stdout)
	for len(replies) < 2 && sc.Scan() {
		replies[sc.Text()]++
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// What berth wrote before it died was delivered: it is still in the
	// pipe, and counts (a reply it wrote between the read above and the
	// kill is not one to answer again).
	for sc.Scan() {
		replies[sc.Text()]++
	}
	cmd.Wait()
	if c := containers(t, home); len(c) != 1 {
		t.Fatalf("after SIGKILL: %d containers, want the one still running", len(c))
	}

	again := berthCmd(t, home, "chat")
	again.Stdin = strings.NewReader("")
	out, err := again.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	maxC := 0
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			replies[sc.Text()]++
		}
	}()
	for {
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
			if c := len(containers(t, home)); c > maxC {
				maxC = c
			}
			continue
		}
		break
	}
	if err := again.Wait(); err != nil {
		t.Fatalf("second berth: %v", err)
	}
	if maxC > 1 {
		t.Errorf("saw %d containers for one session", maxC)
	}
	for i := 0; i < n; i++ {
		if c := replies[fmt.Sprintf("echo: m%d", i)]; c != 1 {
			t.Errorf("m%d answered %d times; replies: %v", i, c, replies)
		}
	}
	assertNoContainers(t, home)
}

func containers(t *testing.T, home string) []container.Info {
	d := gatewaytest.RequireDocker(t)
	list, err := d.List(context.Background(), map[string]string{container.LabelHome: home})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func assertNoContainers(t *testing.T, home string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(containers(t, home)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("containers left after berth exited: %+v", containers(t, home))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSecondGatewayOnSameHomeRefuses(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	first := berthCmd(t, home, "chat")
	stdin, _ := first.StdinPipe()
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "hello")
	bufio.NewScanner(stdout).Scan() // the first gateway is up and answering
	second := berthCmd(t, home, "chat")
	second.Stdin = strings.NewReader("hi\n")
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another berth gateway is already running") {
		t.Fatalf("second gateway: err=%v output=%q", err, out)
	}
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first gateway: %v", err)
	}
}

// openPTY opens a pseudo-terminal: the side a test drives, and the
// terminal a program is given as stdin and stdout.
func openPTY(t *testing.T) (ctl, tty *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pseudo-terminal: %v", err)
	}
	return ctl, tty
}

// On a terminal, `berth chat` shows a message's state in a status line in
// the prompt's place, and the reply prints over it (TestChatPipe: piped,
// nothing but the reply).
func TestChatTTYStatusLine(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctl, tty := openPTY(t)
	cmd := berthCmd(t, home, "chat", "--provider", "echo")
	cmd.Stdin, cmd.Stdout = tty, tty
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ctl.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	waitShown := func(want string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !strings.Contains(shown(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q; it shows %q\nstderr: %s", want, shown(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitShown("you> ") // the prompt: "Ctrl-D to quit" goes to stderr
	if _, err := ctl.Write([]byte("sleep 1s hi\n")); err != nil {
		t.Fatal(err)
	}
	waitShown("echo: hi")
	waitShown("you> ")
	if _, err := ctl.Write([]byte{4}); err != nil { // Ctrl-D: the input ends
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("berth chat: %v\n%s", err, stderr.String())
	}
	got := shown()
	working := strings.Index(got, "\r\x1b[Kberth: working…")
	reply := strings.Index(got, "\r\x1b[Kecho: hi\r\nyou> ") // the terminal turns \n into \r\n
	if working < 0 || reply < working {
		t.Fatalf("no status line \"berth: working…\" replaced by the reply: the terminal showed %q", got)
	}
	t.Logf("the terminal showed %q", got)
	assertNoContainers(t, home)
}
