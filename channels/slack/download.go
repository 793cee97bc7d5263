package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/berth-dev/berth/channels"
)

var _ channels.Fetcher = (*Adapter)(nil)

// fileHosts are the hosts Slack serves url_private from. A download
// follows no redirect elsewhere, but for the configured API base's host
// (GovSlack, a proxy, a test's fake).
var fileHosts = []string{"files.slack.com"}

// maxRedirects bounds a download's redirects between allowed hosts.
const maxRedirects = 5

// fileHost reports whether a file may be fetched from u with the bot token.
func (a *Adapter) fileHost(u *url.URL) bool {
	if u.Scheme == "https" && slices.Contains(fileHosts, u.Hostname()) {
		return true
	}
	if a.cfg.APIURL == "" {
		return false
	}
	base, err := url.Parse(a.cfg.APIURL)
	return err == nil && base.Host != "" && u.Scheme == base.Scheme && u.Host == base.Host
}

// fileClient is the HTTP client of downloads: the configured client's
// transport, and a redirect policy that refuses every host but Slack's
// file hosts, so the bot token and berth's fetch go nowhere else.
func (a *Adapter) fileClient() *http.Client {
	rt := http.DefaultTransport
	if a.cfg.HTTPClient != nil && a.cfg.HTTPClient.Transport != nil {
		rt = a.cfg.HTTPClient.Transport
	}
	return &http.Client{Transport: rt, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", channels.ErrUnfetchable, maxRedirects)
		}
		if !a.fileHost(req.URL) {
			return fmt.Errorf("%w: redirect to %s refused (not a Slack file host)", channels.ErrUnfetchable, req.URL.Host)
		}
		return nil
	}}
}

// Fetch implements channels.Fetcher: it downloads a file's url_private
// with the bot token (which needs the files:read scope).
func (a *Adapter) Fetch(ctx context.Context, att channels.Attachment, w io.Writer, max int64) error {
	u, err := url.Parse(att.URL)
	if err != nil || !a.fileHost(u) {
		return fmt.Errorf("fetch file: %w: its address is not on a Slack file host", channels.ErrUnfetchable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("fetch file: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.BotToken)
	resp, err := a.fileClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, channels.ErrUnfetchable) {
			return fmt.Errorf("fetch file: %w", ue.Err)
		}
		return fmt.Errorf("fetch file: %s", a.scrub(err))
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or to max; a close error changes nothing
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("fetch file: Slack answered %s", resp.Status)
	default:
		return fmt.Errorf("fetch file: %w: Slack answered %s", channels.ErrUnfetchable, resp.Status)
	}
	// Without files:read Slack answers a file's address with its sign-in
	// page, 200 and HTML: that is not the file.
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" && !strings.Contains(att.ContentType, "html") {
		return fmt.Errorf("fetch file: %w: Slack answered with a web page, not the file (does the app have the files:read scope?)", channels.ErrUnfetchable)
	}
	if _, err := io.Copy(w, io.LimitReader(resp.Body, max+1)); err != nil {
		return fmt.Errorf("fetch file: %s", a.scrub(err))
	}
	return nil
}
