package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Fetcher is implemented by adapters that can download the files people
// attach. The host fetches them (the adapter holds the token a platform
// may ask for; it never reaches a container) into the session's inbox
// before the message is stored.
type Fetcher interface {
	// Fetch writes the attachment's bytes to w, at most max+1 of them (so
	// the caller can tell a file over max from one exactly max long). It
	// follows no redirect to a host other than the platform's file hosts.
	// An error wrapping ErrUnfetchable (a refused redirect, a 404) is not
	// worth retrying.
	Fetch(ctx context.Context, att Attachment, w io.Writer, max int64) error
}

// ErrUnfetchable marks a download that retrying will not mend.
var ErrUnfetchable = errors.New("the file cannot be fetched")

// A Download fetches files over HTTP from one platform's file hosts, for
// an adapter's Fetch: it follows no redirect off those hosts, tells a
// failure worth retrying (429, 5xx, the network) from one that is not
// (ErrUnfetchable), and writes at most max+1 bytes.
type Download struct {
	Platform  string              // named in errors: "Slack"
	Transport http.RoundTripper   // nil: http.DefaultTransport
	Allowed   func(*url.URL) bool // whether a file may come from this address
	Header    http.Header         // sent with each request (a token)
	// Check, if set, refuses an answer that is 200 but not the file.
	Check func(*http.Response) error
	// Scrub, if set, renders an error the platform's client returned
	// without what must not be logged (a token).
	Scrub func(error) string
}

// maxRedirects bounds a download's redirects between allowed hosts.
const maxRedirects = 5

// Fetch writes the file at rawURL to w, at most max+1 bytes of it.
func (d Download) Fetch(ctx context.Context, rawURL string, w io.Writer, max int64) error {
	u, err := url.Parse(rawURL)
	if err != nil || !d.Allowed(u) {
		return fmt.Errorf("fetch file: %w: its address is not on a %s file host", ErrUnfetchable, d.Platform)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("fetch file: %w", err)
	}
	for k, vs := range d.Header {
		req.Header[k] = vs
	}
	rt := d.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrUnfetchable, maxRedirects)
		}
		if !d.Allowed(req.URL) {
			return fmt.Errorf("%w: redirect to %s refused (not a %s file host)", ErrUnfetchable, req.URL.Host, d.Platform)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, ErrUnfetchable) {
			return fmt.Errorf("fetch file: %w", ue.Err)
		}
		return d.wrap(err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or to max; a close error changes nothing
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("fetch file: %s answered %s", d.Platform, resp.Status)
	default:
		return fmt.Errorf("fetch file: %w: %s answered %s", ErrUnfetchable, d.Platform, resp.Status)
	}
	if d.Check != nil {
		if err := d.Check(resp); err != nil {
			return fmt.Errorf("fetch file: %w", err)
		}
	}
	if _, err := io.Copy(w, io.LimitReader(resp.Body, max+1)); err != nil {
		return d.wrap(err)
	}
	return nil
}

// wrap is a transport error as Fetch returns it: scrubbed when Scrub is set.
func (d Download) wrap(err error) error {
	if d.Scrub != nil {
		return fmt.Errorf("fetch file: %s", d.Scrub(err))
	}
	return fmt.Errorf("fetch file: %w", err)
}
