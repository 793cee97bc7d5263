package credproxy

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
)

// tokens are the usage fields Anthropic and OpenAI report.
type tokens struct {
	Input      int64 `json:"input_tokens"`
	Output     int64 `json:"output_tokens"`
	Prompt     int64 `json:"prompt_tokens"`
	Completion int64 `json:"completion_tokens"`
}

func (u tokens) input() int64  { return max(0, u.Input) + max(0, u.Prompt) }
func (u tokens) output() int64 { return max(0, u.Output) + max(0, u.Completion) }

// A usageScanner reads the tokens an answer reports as its bytes pass,
// holding only a bounded part of it. final is true when it saw the usage
// that closes the answer (a JSON body's, a stream's last).
type usageScanner interface {
	feed(b []byte)
	result() (in, out int64, final bool)
}

// maxUsage bounds the bytes of one "usage" object kept from a JSON body;
// maxLine bounds one line of an event stream (longer ones are skipped).
const (
	maxUsage = 4 << 10
	maxLine  = 64 << 10
)

// jsonUsage finds the top-level "usage" object of a JSON body in one
// pass, whatever the body's size: a small state machine over the bytes
// that keeps only that object.
type jsonUsage struct {
	started   bool   // the first top-level value has begun
	top       bool   // and it is an object
	depth     int    // nesting of objects and arrays
	inStr     bool   // inside a string
	esc       bool   // after a backslash in a string
	expectKey bool   // at depth 1, the next string is a key
	inKey     bool   // reading a depth-1 key
	key       []byte // its first bytes, enough to tell "usage"
	isUsage   bool   // the depth-1 key just read is "usage"
	capture   bool   // inside the value of the top-level "usage"
	val       []byte // that value, at most maxUsage bytes
	over      bool   // the value was longer than maxUsage
	got       tokens
	ok        bool
}

func (s *jsonUsage) feed(b []byte) {
	for _, c := range b {
		s.step(c)
	}
}

func (s *jsonUsage) step(c byte) {
	if s.capture {
		if len(s.val) < maxUsage+1 {
			s.val = append(s.val, c)
		} else {
			s.over = true
		}
	}
	if s.inStr {
		switch {
		case s.esc:
			s.esc = false
		case c == '\\':
			s.esc = true
		case c == '"':
			s.inStr = false
			if s.inKey {
				s.inKey = false
				s.isUsage = string(s.key) == "usage"
			}
			return
		}
		if s.inKey && len(s.key) < len("usage")+1 {
			s.key = append(s.key, c)
		}
		return
	}
	switch c {
	case '"':
		s.inStr = true
		if s.depth == 1 && s.top && s.expectKey {
			s.inKey, s.key, s.expectKey = true, s.key[:0], false
		}
	case '{', '[':
		if s.depth == 0 && !s.started {
			s.started, s.top, s.expectKey = true, c == '{', true
		}
		s.depth++
	case '}', ']':
		if s.depth == 1 && s.capture {
			s.end()
		}
		s.depth--
	case ',':
		if s.depth == 1 && s.top {
			if s.capture {
				s.end()
			}
			s.expectKey = true
		}
	case ':':
		if s.depth == 1 && s.top && s.isUsage {
			s.capture, s.val, s.over, s.isUsage = true, s.val[:0], false, false
		}
	}
}

// end reads the captured value, less the byte that closed it.
func (s *jsonUsage) end() {
	s.capture = false
	if s.over || len(s.val) == 0 {
		return
	}
	var u *tokens
	if err := json.Unmarshal(s.val[:len(s.val)-1], &u); err == nil && u != nil {
		s.got, s.ok = *u, true
	}
}

// usage returns the top-level usage, if the body had one.
func (s *jsonUsage) usage() (tokens, bool) { return s.got, s.ok }

func (s *jsonUsage) result() (int64, int64, bool) {
	return s.got.input(), s.got.output(), s.ok
}

// sseUsage reads the usage in a stream of server-sent events, a line at
// a time: Anthropic's message_start.message.usage and message_delta.usage
// (running totals), OpenAI's chunk usage. It keeps the largest of each.
type sseUsage struct {
	line    []byte // the line so far, at most maxLine bytes
	skip    bool   // the line is longer: ignore it to its end
	in, out int64
	final   bool // an event's top-level usage was seen
}

func (s *sseUsage) feed(b []byte) {
	for len(b) > 0 {
		part, rest, eol := bytes.Cut(b, []byte{'\n'})
		if !s.skip {
			if len(s.line)+len(part) > maxLine {
				s.skip, s.line = true, s.line[:0]
			} else {
				s.line = append(s.line, part...)
			}
		}
		if !eol {
			break
		}
		if !s.skip {
			s.event(s.line)
		}
		s.line, s.skip, b = s.line[:0], false, rest
	}
}

func (s *sseUsage) event(line []byte) {
	data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
	if !ok || !bytes.Contains(data, []byte(`"usage"`)) {
		return
	}
	var ev struct {
		Message struct {
			Usage *tokens `json:"usage"`
		} `json:"message"`
		Usage *tokens `json:"usage"`
	}
	if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
		return
	}
	for _, u := range []*tokens{ev.Message.Usage, ev.Usage} {
		if u != nil {
			s.in, s.out = max(s.in, u.input()), max(s.out, u.output())
		}
	}
	if ev.Usage != nil {
		s.final = true
	}
}

func (s *sseUsage) result() (int64, int64, bool) { return s.in, s.out, s.final }

// metered relays an answer to the container and reads its usage on the
// way.
type metered struct {
	http.ResponseWriter
	status int   // the final status sent, 0 before it
	n      int64 // body bytes relayed
	scan   usageScanner
}

func (m *metered) WriteHeader(code int) {
	if m.status == 0 && code >= 200 {
		m.status = code
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *metered) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	if m.scan == nil {
		if t, _, _ := mime.ParseMediaType(m.Header().Get("Content-Type")); t == "text/event-stream" {
			m.scan = &sseUsage{}
		} else {
			m.scan = &jsonUsage{}
		}
	}
	m.scan.feed(b)
	m.n += int64(len(b))
	return m.ResponseWriter.Write(b)
}

// Unwrap lets the reverse proxy flush each event of a stream as it comes.
func (m *metered) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// tokens is what the call cost: what the answer reported or, for a
// successful call that spends tokens but did not report its closing
// usage (a stream the container cut short, or one asked without usage),
// an estimate by size on the high side (4 bytes a token).
func (m *metered) tokens(rt Route, sent int64) (int64, int64) {
	var in, out int64
	var final bool
	if m.scan != nil {
		in, out, final = m.scan.result()
	}
	if rt.Meter && !final && m.status >= 200 && m.status < 300 {
		in, out = max(in, (sent+3)/4), max(out, (m.n+3)/4)
	}
	return in, out
}
