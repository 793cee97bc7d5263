package data

import (
	"fmt"

	"github.com/berth-dev/berth/channels"
)

// Conversation is where a message was said, as berth wires and keys it:
// the messaging group's address and the thread within it.
type Conversation struct {
	Address string // the wired channel's platform id
	Thread  string // the thread within it; "" for the channel itself
}

// ConversationOf says where in was said. A Discord thread is a channel of
// its own on the platform, but berth wires it through its parent and keys
// it as a thread of that parent.
func ConversationOf(in channels.Inbound) Conversation {
	if in.ParentID != "" {
		return Conversation{Address: in.ParentID, Thread: in.PlatformID}
	}
	return Conversation{Address: in.PlatformID, Thread: in.ThreadID}
}

// SessionKey names the session of one agent group that a message belongs
// to. Mode decides which sessions it matches: under agent-shared every
// channel's, under shared every thread of the channel, under per-thread
// the one thread.
type SessionKey struct {
	AgentGroupID     string
	MessagingGroupID string // the conversation's channel; a new session is recorded under it
	ThreadID         string // "" unless Mode is per-thread
	Mode             SessionMode
	// Opens is set when the message opens a thread of its own: a
	// top-level message of a per-thread channel, keyed by its own id,
	// under which the platform threads the replies.
	Opens bool
}

// ConversationKey decides which session of w's agent group the message in,
// said in messaging group mg, belongs to. It is the one place that
// decides: the router stores a message in the session it names, and the
// chat commands (!reset, !stop, !status) act on the session it names.
func ConversationKey(in channels.Inbound, mg MessagingGroup, w Wiring) (SessionKey, error) {
	k := SessionKey{AgentGroupID: w.AgentGroupID, MessagingGroupID: mg.ID, Mode: w.SessionMode}
	switch w.SessionMode {
	case SessionShared, SessionAgentShared:
	case SessionPerThread:
		k.ThreadID = ConversationOf(in).Thread
		if k.ThreadID == "" && !mg.IsDM {
			// A DM has no threads: it is one conversation.
			k.ThreadID, k.Opens = in.MessageID, true
		}
	default:
		return SessionKey{}, fmt.Errorf("unknown session mode %q", w.SessionMode)
	}
	return k, nil
}

// where is the condition matching the sessions k names (active or not).
func (k SessionKey) where() (string, []any, error) {
	switch k.Mode {
	case SessionAgentShared:
		return `agent_group_id = ?`, []any{k.AgentGroupID}, nil
	case SessionShared:
		return `agent_group_id = ? AND messaging_group_id = ?`, []any{k.AgentGroupID, k.MessagingGroupID}, nil
	case SessionPerThread:
		return `agent_group_id = ? AND messaging_group_id = ? AND thread_id = ?`, []any{k.AgentGroupID, k.MessagingGroupID, k.ThreadID}, nil
	}
	return "", nil, fmt.Errorf("unknown session mode %q", k.Mode)
}
