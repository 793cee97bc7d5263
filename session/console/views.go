package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/census"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Limits of what a page lists, so that a page costs the same at a
// thousand sessions as at ten.
const (
	recentSessions  = 10  // on the overview, the most recently active
	sessionsPerPage = 50  // on the sessions page
	historyLimit    = 50  // a session's newest messages on its page
	logBacklog      = 200 // log lines a log page starts with
	// logTail is how much of a log's end a log page reads for them, so a
	// page costs the same at a 50 MB log as at a small one; berth logs
	// reads all of it.
	logTail = 1 << 20
)

// Outcome is where a message stands, as the console shows it.
type Outcome string

// Outcomes of a message.
const (
	OutcomeQueued    Outcome = "queued"    // waiting for its turn (or the cap)
	OutcomeWorking   Outcome = "working"   // its container is on it
	OutcomeAnswered  Outcome = "answered"  // done
	OutcomeFailed    Outcome = "failed"    // failed, its sender told
	OutcomeCancelled Outcome = "cancelled" // stopped by !stop or a reset
)

// outcomeOf is a message's outcome.
func outcomeOf(m sessiondb.Message) Outcome {
	switch m.Status {
	case sessiondb.StatusPending:
		if m.Working {
			return OutcomeWorking
		}
		return OutcomeQueued
	case sessiondb.StatusCompleted:
		return OutcomeAnswered
	case sessiondb.StatusFailed:
		return OutcomeFailed
	case sessiondb.StatusCancelled:
		return OutcomeCancelled
	}
	return Outcome(m.Status)
}

// index is the store's groups and conversations by id, read once per page.
type index struct {
	groups map[string]data.AgentGroup
	convs  map[string]data.MessagingGroup
	list   []data.AgentGroup
}

func (s *Server) index(ctx context.Context) (index, error) {
	ix := index{groups: map[string]data.AgentGroup{}, convs: map[string]data.MessagingGroup{}}
	gs, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		return ix, fmt.Errorf("list groups: %w", err)
	}
	for _, g := range gs {
		ix.groups[g.ID] = g
	}
	ix.list = gs
	mgs, err := s.cfg.Store.MessagingGroups(ctx)
	if err != nil {
		return ix, fmt.Errorf("list conversations: %w", err)
	}
	for _, mg := range mgs {
		ix.convs[mg.ID] = mg
	}
	return ix, nil
}

// sessionRow is a session in a list.
type sessionRow struct {
	ID, Group, ChannelType, Channel, Thread string
	Status                                  data.SessionStatus
	State                                   string // the container's state, or closed
	LastActive                              time.Time
	Last                                    *messageView // the newest message; only where a list shows it
}

func (ix index) row(s data.Session) sessionRow {
	mg := ix.convs[s.MessagingGroupID]
	r := sessionRow{ID: s.ID, Group: ix.groups[s.AgentGroupID].Folder, ChannelType: mg.ChannelType,
		Channel: convName(mg), Thread: s.ThreadID, Status: s.Status, State: string(s.ContainerState), LastActive: s.LastActive}
	if s.Status != data.SessionActive {
		r.State = string(s.Status)
	}
	return r
}

// convName is how a conversation is named on a page.
func convName(mg data.MessagingGroup) string {
	if mg.ChannelType == "" {
		return ""
	}
	name := cmp.Or(mg.Name, mg.PlatformID)
	return mg.ChannelType + ":" + name
}

// messageView is a message on a page.
type messageView struct {
	sessiondb.Message
	Outcome Outcome
}

// channelView is a channel on the overview.
type channelView struct {
	Name      string
	OK        bool   // connected (or a channel that does not say)
	State     string // connected, connecting, disconnected: why
	LastEvent time.Time
	Detail    string // reconnects
}

// containerRow is a running container.
type containerRow struct {
	ID, Name, Group, Session string
	Created                  time.Time
	Stats                    *container.Stats // nil: not measured yet
}

// count is one state and how many are in it.
type count struct {
	Name string
	N    int
}

// overview is the overview page's content.
type overview struct {
	Now        time.Time
	Channels   []channelView
	Groups     []data.AgentGroup
	States     []count // active sessions by their container's state
	Active     int
	Closed     int
	Recent     []sessionRow
	Containers []containerRow
	Cap        int
	Figures    snapshot
	Errors     []string // what could not be read
}

func (s *Server) overview(ctx context.Context) overview {
	o := overview{Now: time.Now(), Cap: s.cfg.MaxRunning, Figures: s.figures.get()}
	for _, ch := range s.cfg.Channels {
		cv := channelView{Name: ch.Type(), OK: true, State: "running"}
		if h, ok := ch.(channels.Health); ok {
			c := h.Health()
			cv.OK, cv.LastEvent, cv.State = c.Connected, c.LastEvent, c.State()
			cv.Detail = fmt.Sprintf("%d reconnects, %d deaf", c.Reconnects, c.DeafReconnects)
		}
		o.Channels = append(o.Channels, cv)
	}
	ix, err := s.index(ctx)
	if err != nil {
		o.Errors = append(o.Errors, err.Error())
	}
	o.Groups = ix.list
	all, err := s.cfg.Store.Sessions(ctx, data.SessionFilter{})
	if err != nil {
		o.Errors = append(o.Errors, "list sessions: "+err.Error())
	}
	states := map[string]int{}
	var active []data.Session
	for _, ss := range all {
		if ss.Status != data.SessionActive {
			o.Closed++
			continue
		}
		o.Active++
		states[string(ss.ContainerState)]++
		active = append(active, ss)
	}
	for _, st := range []data.ContainerState{data.ContainerRunning, data.ContainerStarting, data.ContainerStopping, data.ContainerStopped} {
		if n := states[string(st)]; n > 0 {
			o.States = append(o.States, count{string(st), n})
		}
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].LastActive.After(active[j].LastActive) })
	for _, ss := range active[:min(len(active), recentSessions)] {
		r := ix.row(ss)
		if h, err := s.history(ctx, ss, 1); err == nil && len(h) > 0 {
			r.Last = &h[0]
		}
		o.Recent = append(o.Recent, r)
	}
	rows, err := s.containers(ctx, map[string]string{container.LabelHome: s.cfg.Home.String()}, o.Figures)
	if err != nil {
		o.Errors = append(o.Errors, err.Error())
	}
	o.Containers = rows
	return o
}

// containers lists the running containers with labels, oldest first.
func (s *Server) containers(ctx context.Context, labels map[string]string, f snapshot) ([]containerRow, error) {
	list, err := census.Running(ctx, s.cfg.Containers, labels)
	if err != nil {
		return nil, err
	}
	var out []containerRow
	for _, c := range list {
		r := containerRow{ID: c.ID, Name: c.Name, Group: c.Labels[container.LabelGroup], Session: c.Labels[container.LabelSession], Created: c.Created}
		if st, ok := f.Stats[c.ID]; ok {
			r.Stats = &st
		}
		out = append(out, r)
	}
	return out, nil
}

// history is a session's newest messages with their outcome.
func (s *Server) history(ctx context.Context, ss data.Session, limit int) ([]messageView, error) {
	h, err := sessiondb.Host{Dir: s.cfg.Home.Session(ss.AgentGroupID, ss.ID)}.History(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]messageView, len(h))
	for i, m := range h {
		out[i] = messageView{Message: m, Outcome: outcomeOf(m)}
	}
	return out, nil
}

// sessionFilter is the sessions page's query.
type sessionFilter struct {
	Group, Channel, State string
	Page                  int
}

// sessionsView is the sessions page's content.
type sessionsView struct {
	Filter   sessionFilter
	Groups   []string // to filter by
	Channels []string
	States   []string
	Rows     []sessionRow
	Total    int // matching the filter
	Pages    int
	Prev     string // query strings of the neighbouring pages; "" at an end
	Next     string
}

func (s *Server) sessions(ctx context.Context, f sessionFilter) (sessionsView, error) {
	v := sessionsView{Filter: f, States: []string{"running", "starting", "stopping", "stopped", "closed"}}
	ix, err := s.index(ctx)
	if err != nil {
		return v, err
	}
	var sf data.SessionFilter
	for _, g := range ix.list {
		v.Groups = append(v.Groups, g.Folder)
		if g.Folder == f.Group {
			sf.AgentGroupID = g.ID
		}
	}
	if f.Group != "" && sf.AgentGroupID == "" {
		return v, nil // no such group: no sessions
	}
	types := map[string]bool{}
	for _, mg := range ix.convs {
		types[mg.ChannelType] = true
	}
	for t := range types {
		v.Channels = append(v.Channels, t)
	}
	slices.Sort(v.Channels)
	all, err := s.cfg.Store.Sessions(ctx, sf)
	if err != nil {
		return v, fmt.Errorf("list sessions: %w", err)
	}
	var match []sessionRow
	for _, ss := range all {
		r := ix.row(ss)
		if (f.Channel == "" || r.ChannelType == f.Channel) && (f.State == "" || r.State == f.State) {
			match = append(match, r)
		}
	}
	// The active first, the most recently active first.
	sort.SliceStable(match, func(i, j int) bool {
		if (match[i].Status == data.SessionActive) != (match[j].Status == data.SessionActive) {
			return match[i].Status == data.SessionActive
		}
		return match[i].LastActive.After(match[j].LastActive)
	})
	v.Total = len(match)
	v.Pages = max(1, (len(match)+sessionsPerPage-1)/sessionsPerPage)
	v.Filter.Page = min(max(f.Page, 1), v.Pages)
	lo := (v.Filter.Page - 1) * sessionsPerPage
	v.Rows = match[lo:min(lo+sessionsPerPage, len(match))]
	q := func(p int) string {
		return fmt.Sprintf("?group=%s&channel=%s&state=%s&page=%d", url.QueryEscape(f.Group), url.QueryEscape(f.Channel), url.QueryEscape(f.State), p)
	}
	if v.Filter.Page > 1 {
		v.Prev = q(v.Filter.Page - 1)
	}
	if v.Filter.Page < v.Pages {
		v.Next = q(v.Filter.Page + 1)
	}
	return v, nil
}

// sessionView is a session's page.
type sessionView struct {
	Row        sessionRow
	GroupID    string
	Created    time.Time
	Messages   []messageView
	MoreShown  bool // the history was cut at historyLimit
	Containers []containerRow
	Usage      usage
	Figures    snapshot
	Errors     []string
}

// usage is a group's model tokens today against its budget.
type usage struct {
	Input, Output int64
	Budget        string // daily_budget_tokens, as groups config shows it
}

var errNoSession = errors.New("no such session")

func (s *Server) session(ctx context.Context, id string) (sessionView, error) {
	var v sessionView
	ss, err := s.cfg.Store.Session(ctx, id)
	if errors.Is(err, data.ErrNotFound) {
		return v, errNoSession
	}
	if err != nil {
		return v, fmt.Errorf("read session %s: %w", id, err)
	}
	ix, err := s.index(ctx)
	if err != nil {
		return v, err
	}
	v.Row, v.GroupID, v.Created, v.Figures = ix.row(ss), ss.AgentGroupID, ss.CreatedAt, s.figures.get()
	if v.Messages, err = s.history(ctx, ss, historyLimit+1); err != nil {
		v.Errors = append(v.Errors, err.Error())
	}
	if len(v.Messages) > historyLimit {
		v.Messages, v.MoreShown = v.Messages[:historyLimit], true
	}
	if v.Containers, err = s.containers(ctx, container.SessionLabels(s.cfg.Home.String(), ss.ID), v.Figures); err != nil {
		v.Errors = append(v.Errors, err.Error())
	}
	g := ix.groups[ss.AgentGroupID]
	if v.Usage.Input, v.Usage.Output, err = s.cfg.Store.Usage(ctx, g.Folder, time.Now()); err != nil {
		v.Errors = append(v.Errors, "read usage: "+err.Error())
	}
	if set, err := groups.Effective(g, s.cfg.Install); err == nil {
		for _, st := range set {
			if st.Key == "daily_budget_tokens" {
				v.Usage.Budget = st.Value
			}
		}
	}
	return v, nil
}

// groupView is one group on the groups page.
type groupView struct {
	Group    data.AgentGroup
	Settings []groups.Setting
	Error    string // the row cannot be read: why
	Wirings  []wiringView
}

// wiringView is one wiring of a group.
type wiringView struct {
	data.Wiring
	Channel string
}

func (s *Server) groups(ctx context.Context) ([]groupView, error) {
	ix, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.cfg.Store.Wirings(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list wirings: %w", err)
	}
	byGroup := map[string][]wiringView{}
	for _, w := range ws {
		byGroup[w.AgentGroupID] = append(byGroup[w.AgentGroupID], wiringView{Wiring: w, Channel: convName(ix.convs[w.MessagingGroupID])})
	}
	var out []groupView
	for _, g := range ix.list {
		gv := groupView{Group: g, Wirings: byGroup[g.ID]}
		if gv.Settings, err = groups.Effective(g, s.cfg.Install); err != nil {
			gv.Error = err.Error()
		}
		out = append(out, gv)
	}
	return out, nil
}
