package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/berth-dev/berth/channels"
)

var _ channels.Fetcher = (*Adapter)(nil)

// fileHosts are the hosts Discord serves attachments from. A download
// follows no redirect elsewhere, but for the configured API base's host
// (a proxy, a test's fake).
var fileHosts = []string{"cdn.discordapp.com", "media.discordapp.net"}

// maxRedirects bounds a download's redirects between allowed hosts.
const maxRedirects = 5

// fileHost reports whether an attachment may be fetched from u.
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

// fileClient is the HTTP client of downloads. It does not go through the
// REST rewriter (an attachment's address is its own), and its redirect
// policy refuses every host but Discord's file hosts.
func (a *Adapter) fileClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", channels.ErrUnfetchable, maxRedirects)
		}
		if !a.fileHost(req.URL) {
			return fmt.Errorf("%w: redirect to %s refused (not a Discord file host)", channels.ErrUnfetchable, req.URL.Host)
		}
		return nil
	}}
}

// Fetch implements channels.Fetcher: it downloads an attachment from
// Discord's CDN (its address is signed; no token is sent).
func (a *Adapter) Fetch(ctx context.Context, att channels.Attachment, w io.Writer, max int64) error {
	u, err := url.Parse(att.URL)
	if err != nil || !a.fileHost(u) {
		return fmt.Errorf("fetch attachment: %w: its address is not on a Discord file host", channels.ErrUnfetchable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("fetch attachment: %w", err)
	}
	resp, err := a.fileClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, channels.ErrUnfetchable) {
			return fmt.Errorf("fetch attachment: %w", ue.Err)
		}
		return fmt.Errorf("fetch attachment: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or to max; a close error changes nothing
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("fetch attachment: Discord answered %s", resp.Status)
	default:
		return fmt.Errorf("fetch attachment: %w: Discord answered %s", channels.ErrUnfetchable, resp.Status)
	}
	if _, err := io.Copy(w, io.LimitReader(resp.Body, max+1)); err != nil {
		return fmt.Errorf("fetch attachment: %w", err)
	}
	return nil
}
