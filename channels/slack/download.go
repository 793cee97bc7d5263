package slack

import (
	"context"
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

// Fetch implements channels.Fetcher: it downloads a file's url_private
// with the bot token (which needs the files:read scope), from Slack's
// file hosts only.
func (a *Adapter) Fetch(ctx context.Context, att channels.Attachment, w io.Writer, max int64) error {
	var rt http.RoundTripper
	if a.cfg.HTTPClient != nil {
		rt = a.cfg.HTTPClient.Transport
	}
	d := channels.Download{
		Platform: "Slack", Transport: rt, Allowed: a.fileHost,
		Header: http.Header{"Authorization": {"Bearer " + a.cfg.BotToken}},
		// Without files:read Slack answers a file's address with its
		// sign-in page, 200 and HTML: that is not the file.
		Check: func(resp *http.Response) error {
			if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" && !strings.Contains(att.ContentType, "html") {
				return fmt.Errorf("%w: Slack answered with a web page, not the file (does the app have the files:read scope?)", channels.ErrUnfetchable)
			}
			return nil
		},
		Scrub: a.scrub,
	}
	return d.Fetch(ctx, att.URL, w, max)
}
