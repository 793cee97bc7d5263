// Command hostiletool is TEST-ONLY: a static program the hostile-agent
// tests copy into a group folder and run inside an agent container, to do
// what busybox cannot (dial the credential proxy's unix socket).
//
//	hostiletool conns -sock /run/berth/proxy.sock -n 3000 -ready F -release G
//
// opens up to n connections, sends each one request, keeps every
// connection that was answered open (idle keep-alive), writes a JSON
// summary to F, and holds them until G exists (or -hold passes).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "conns" {
		fmt.Fprintln(os.Stderr, "usage: hostiletool conns [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("conns", flag.ExitOnError)
	sock := fs.String("sock", "/run/berth/proxy.sock", "socket to dial")
	n := fs.Int("n", 3000, "connections to open")
	ready := fs.String("ready", "", "write the summary here when all are open")
	release := fs.String("release", "", "hold until this file exists")
	hold := fs.Duration("hold", 90*time.Second, "hold at most this long")
	_ = fs.Parse(os.Args[2:]) // ExitOnError: it exits rather than return one

	var sum struct {
		Dialed, Answered, Refused, Stalled, DialErrors int
		FirstDialError                                 string `json:",omitempty"`
	}
	var held []net.Conn
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("unix", *sock, 2*time.Second)
		if err != nil {
			sum.DialErrors++
			if sum.FirstDialError == "" {
				sum.FirstDialError = err.Error()
			}
			if sum.DialErrors > 50 {
				break // out of descriptors in here: hold what we have
			}
			continue
		}
		sum.Dialed++
		switch answered(c) {
		case served:
			sum.Answered++
			held = append(held, c)
		case closed:
			sum.Refused++
			_ = c.Close() // already closed by the server
		case stalled:
			// No answer at all: the server is out of descriptors and
			// accepts no more. Stop once that is plain.
			sum.Stalled++
			_ = c.Close() // counted; a failed close changes nothing here
		}
		if sum.Stalled >= 10 {
			break
		}
	}
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
	if *ready != "" {
		if err := os.WriteFile(*ready, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for end := time.Now().Add(*hold); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(*release); *release != "" && err == nil {
			break
		}
	}
	fmt.Println("held", len(held))
}

// outcome is what became of one connection's request.
type outcome int

const (
	served  outcome = iota // answered, and kept open
	closed                 // closed by the server without an answer
	stalled                // no answer and no close within the deadline
)

// answered sends one keep-alive request and reads its answer.
func answered(c net.Conn) outcome {
	// A deadline that cannot be set shows as a stall or a close below.
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, "GET /berth-hostile-probe HTTP/1.1\r\nHost: berth-proxy\r\n\r\n"); err != nil {
		return closed
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return stalled
	case err != nil:
		return closed
	}
	// Drained so the connection stays usable; the answer was already had.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return served
}
