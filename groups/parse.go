package groups

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/data"
)

// Limits on what ParseCommand accepts.
const (
	MaxCommandBytes = 16 << 10 // longest command text
	MaxCommandArgs  = 16       // arguments and options together
	maxNameBytes    = 32       // longest command or option name
	maxPatternBytes = 1000     // longest engage pattern
)

// Command is one parsed chat command.
type Command struct {
	Name  string            // lower case, without the "!"
	Args  []string          // positional arguments, in order
	Flags map[string]string // options: --name value or --name=value
}

// ErrNotCommand is returned by ParseCommand for text that is not a command.
var ErrNotCommand = errors.New("not a command (a command starts with '!')")

var validWord = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ParseCommand parses a chat command: "!name arg … --option value …",
// optionally after a leading bot mention ("<@U123> !help", "@berth
// !help"). Arguments are separated by spaces; quotes ("…", '…', “…”)
// keep spaces inside one. It never panics, and what it returns is never
// longer than text.
func ParseCommand(text string) (Command, error) {
	if len(text) > MaxCommandBytes {
		return Command{}, fmt.Errorf("command is too long (%d bytes; at most %d)", len(text), MaxCommandBytes)
	}
	if !utf8.ValidString(text) {
		return Command{}, errors.New("command is not valid UTF-8")
	}
	text = stripMention(strings.TrimSpace(text))
	if !strings.HasPrefix(text, "!") {
		return Command{}, ErrNotCommand
	}
	tokens, err := tokenize(text[1:], MaxCommandArgs+1)
	if err != nil {
		return Command{}, err
	}
	if len(tokens) == 0 {
		return Command{}, errors.New("empty command; try !help")
	}
	cmd := Command{Name: strings.ToLower(tokens[0]), Flags: map[string]string{}}
	if len(cmd.Name) > maxNameBytes || !validWord.MatchString(cmd.Name) {
		return Command{}, fmt.Errorf("unknown command !%s; try !help", truncate(tokens[0], 20))
	}
	rest := tokens[1:]
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		if tok == "--" {
			cmd.Args = append(cmd.Args, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(tok, "--") {
			cmd.Args = append(cmd.Args, tok)
			continue
		}
		key, val, hasVal := strings.Cut(tok[2:], "=")
		key = strings.ToLower(key)
		if len(key) > maxNameBytes || !validWord.MatchString(key) {
			return Command{}, fmt.Errorf("option --%s is not valid", truncate(key, 20))
		}
		if !hasVal {
			if i+1 >= len(rest) || strings.HasPrefix(rest[i+1], "--") {
				return Command{}, fmt.Errorf("option --%s needs a value", key)
			}
			i++
			val = rest[i]
		}
		if _, dup := cmd.Flags[key]; dup {
			return Command{}, fmt.Errorf("option --%s is given twice", key)
		}
		cmd.Flags[key] = val
	}
	return cmd, nil
}

// stripMention removes a leading bot mention when a command follows it.
func stripMention(text string) string {
	var rest string
	switch {
	case strings.HasPrefix(text, "<@"):
		i := strings.IndexByte(text, '>')
		if i < 0 {
			return text
		}
		rest = text[i+1:]
	case strings.HasPrefix(text, "@"):
		i := strings.IndexFunc(text, unicode.IsSpace)
		if i < 0 {
			return text
		}
		rest = text[i:]
	default:
		return text
	}
	if rest = strings.TrimSpace(rest); strings.HasPrefix(rest, "!") {
		return rest
	}
	return text
}

// closeQuote returns the quote that closes r, or 0 if r opens none.
func closeQuote(r rune) rune {
	switch r {
	case '"', '\'':
		return r
	case '“':
		return '”'
	case '‘':
		return '’'
	}
	return 0
}

// tokenize splits s on white space, honouring quotes. It fails once there
// are more than max tokens.
func tokenize(s string, max int) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false // inside a token
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case !in && closeQuote(r) != 0: // a quote opens only at a token's start
			quote, in = closeQuote(r), true
		case unicode.IsSpace(r):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
		if len(out) > max {
			return nil, fmt.Errorf("too many arguments (at most %d)", max-1)
		}
	}
	if quote != 0 {
		return nil, errors.New("a quote is not closed")
	}
	if in {
		out = append(out, cur.String())
	}
	if len(out) > max {
		return nil, fmt.Errorf("too many arguments (at most %d)", max-1)
	}
	return out, nil
}

// WireOptions are how a wiring engages, keys its sessions and lets senders in.
type WireOptions struct {
	Engage      data.Engage      // data.EngageMention, EngageMentionSticky or EngagePattern
	Pattern     string           // for EngagePattern
	SessionMode data.SessionMode // data.SessionShared, SessionPerThread or SessionAgentShared
	Access      data.Access      // data.AccessMembers, AccessOpen or AccessApproval
}

// DefaultWireOptions are the defaults for a new wiring: in a DM every
// message engages and the DM is one session; in a channel a mention
// engages, then the rest of its thread, and each thread is a session.
// Either way only users with a role reach the agent: anything wider is
// the admin's explicit choice.
func DefaultWireOptions(isDM bool) WireOptions {
	if isDM {
		return WireOptions{Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionShared, Access: data.AccessMembers}
	}
	return WireOptions{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread, Access: data.AccessMembers}
}

// ParseAccess checks an access policy: members, open or approval.
func ParseAccess(s string) (data.Access, error) {
	for _, a := range data.Accesses {
		if s == string(a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("access %q is not known: use members (only users with a role), open (anyone in the channel) "+
		"or approval (an admin allows each new sender)", truncate(s, 40))
}

// ParseEngage parses an engage rule: "mention", "mention-sticky", "all"
// (every message) or "pattern:<regex>". A pattern that does not compile is
// refused, with the compile error: a broken rule must never engage.
func ParseEngage(s string) (engage data.Engage, pattern string, err error) {
	switch e := data.Engage(s); e {
	case data.EngageMention, data.EngageMentionSticky:
		return e, "", nil
	case "all":
		return data.EngagePattern, ".", nil
	}
	p, ok := strings.CutPrefix(s, "pattern:")
	if !ok {
		return "", "", fmt.Errorf("engage rule %q is not known: use mention, mention-sticky, all or pattern:<regex>", truncate(s, 40))
	}
	if p == "" {
		return "", "", errors.New("the pattern is empty: use --engage all to engage on every message")
	}
	if len(p) > maxPatternBytes {
		return "", "", fmt.Errorf("the pattern is %d bytes; at most %d are allowed", len(p), maxPatternBytes)
	}
	if _, err := regexp.Compile(p); err != nil {
		return "", "", fmt.Errorf("the pattern does not compile, so it is refused: %v", err)
	}
	return data.EngagePattern, p, nil
}

// ParseSessionMode checks a session mode: shared, per-thread or agent-shared.
func ParseSessionMode(s string) (data.SessionMode, error) {
	switch m := data.SessionMode(s); m {
	case data.SessionShared, data.SessionPerThread, data.SessionAgentShared:
		return m, nil
	}
	return "", fmt.Errorf("session mode %q is not known: use shared, per-thread or agent-shared", truncate(s, 40))
}

// Apply sets o's engage rule, session mode and access from "engage",
// "session" and "access" option values; empty values keep o's.
func (o WireOptions) Apply(engage, session, access string) (WireOptions, error) {
	if engage != "" {
		e, p, err := ParseEngage(engage)
		if err != nil {
			return o, err
		}
		o.Engage, o.Pattern = e, p
	}
	if session != "" {
		m, err := ParseSessionMode(session)
		if err != nil {
			return o, err
		}
		o.SessionMode = m
	}
	if access != "" {
		a, err := ParseAccess(access)
		if err != nil {
			return o, err
		}
		o.Access = a
	}
	return o, nil
}

// Describe says in words how a wiring engages, keys its sessions and
// lets senders in ("" access is members, as the store writes it).
func Describe(engage data.Engage, pattern string, mode data.SessionMode, access data.Access) string {
	e := string(engage)
	switch {
	case engage == data.EngagePattern && pattern == ".":
		e = "every message"
	case engage == data.EngagePattern:
		e = "pattern " + truncate(pattern, 60)
	}
	if access == "" {
		access = data.AccessMembers
	}
	return "engage " + e + ", sessions " + string(mode) + ", access " + string(access)
}
