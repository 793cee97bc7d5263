package discord

import (
	"context"
	"io"
	"net/url"
	"slices"

	"github.com/berth-dev/berth/channels"
)

var _ channels.Fetcher = (*Adapter)(nil)

// fileHosts are the hosts Discord serves attachments from. A download
// follows no redirect elsewhere, but for the configured API base's host
// (a proxy, a test's fake).
var fileHosts = []string{"cdn.discordapp.com", "media.discordapp.net"}

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

// Fetch implements channels.Fetcher: it downloads an attachment from
// Discord's CDN (its address is signed; no token is sent). It does not
// go through the REST rewriter: an attachment's address is its own.
func (a *Adapter) Fetch(ctx context.Context, att channels.Attachment, w io.Writer, max int64) error {
	return channels.Download{Platform: "Discord", Allowed: a.fileHost}.Fetch(ctx, att.URL, w, max)
}
