package store

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Opener opens a store from a URL whose scheme it registered for.
type Opener func(ctx context.Context, url string) (Store, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a backend available to Open for URLs with this scheme
// ("sqlite", "postgres"). The empty scheme stands for a bare file path.
// It panics if the scheme is registered twice, as database/sql.Register does.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("store: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

var schemeRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*):`)

// Scheme returns the scheme of a system database URL: "sqlite" for
// "sqlite:app.db", "postgres" for "postgres://…" and "postgresql://…", and
// "" for a bare file path.
func Scheme(url string) string {
	m := schemeRE.FindStringSubmatch(url)
	if m == nil {
		return ""
	}
	s := strings.ToLower(m[1])
	if s == "postgresql" {
		return "postgres"
	}
	return s
}

// Open opens the store named by url: "sqlite:path", "sqlite:///abs/path",
// "sqlite::memory:", a bare file path, or "postgres://…". The backend for
// the URL's scheme must be linked in.
func Open(ctx context.Context, url string) (Store, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrUnsupportedURL)
	}
	scheme := Scheme(url)
	openersMu.RLock()
	open, ok := openers[scheme]
	openersMu.RUnlock()
	if ok {
		return open(ctx, url)
	}
	if scheme == "postgres" {
		return nil, fmt.Errorf("%w: %q: the PostgreSQL store is not built yet; use a sqlite: URL or a file path", ErrUnsupportedURL, redact(url))
	}
	return nil, fmt.Errorf("%w: %q: accepted are %s", ErrUnsupportedURL, redact(url), accepted())
}

func accepted() string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	var names []string
	for s := range openers {
		if s == "" {
			names = append(names, "a bare file path")
			continue
		}
		names = append(names, s+":")
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none (no backend is linked in)"
	}
	return strings.Join(names, ", ")
}

// redact hides a password in a URL so errors can be logged.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	sep := strings.Index(url, "://")
	if at < 0 || sep < 0 || at < sep {
		return url
	}
	cred := url[sep+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return url[:sep+3] + cred[:i] + ":xxxxx" + url[at:]
	}
	return url
}
