package sqlite

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/dboslite/dboslite/store"
)

// Config is what a sqlite: URL says.
type Config struct {
	Path        string // file path; ":memory:" for an in-memory database
	Synchronous string // NORMAL (default) or FULL
	BusyTimeout int    // milliseconds a write waits for another process's lock. Defaults to 10000.
}

// ParseURL reads a sqlite: system database URL. The path forms are DBOS
// Go's and SQLAlchemy's (which DBOS Python writes):
//
//	sqlite:app.db            app.db, relative to the working directory
//	sqlite:/var/app.db       /var/app.db
//	sqlite::memory:          an in-memory database
//	sqlite:///app.db         app.db, relative (SQLAlchemy)
//	sqlite:////var/app.db    /var/app.db (SQLAlchemy)
//	sqlite:///:memory:       an in-memory database (SQLAlchemy)
//
// Optional query parameters are synchronous=NORMAL|FULL and
// busy_timeout=<ms>. The path is used as written: ~ is not expanded, so a
// path starting with ~ is refused, as are a URL with a host
// (sqlite://host/…) and anything that is not a sqlite: URL, a bare file
// path included. SQLAlchemy reads sqlite:// with no path as an in-memory
// database; here it is refused, as it is more likely a path left empty by
// mistake than a wish to lose every record at exit: write sqlite::memory:.
// Every refusal matches store.ErrUnsupportedURL.
func ParseURL(u string) (Config, error) {
	c := Config{Synchronous: "NORMAL", BusyTimeout: 10000}
	if store.Scheme(u) != "sqlite" {
		return c, store.UnsupportedURL(u, "not a sqlite: URL")
	}
	rest, query, _ := strings.Cut(u[len("sqlite:"):], "?")
	path, err := urlPath(u, rest)
	if err != nil {
		return c, err
	}
	c.Path = path
	q, err := url.ParseQuery(query)
	if err != nil {
		return c, paramError(u, err.Error())
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "synchronous":
			v = strings.ToUpper(v)
			if v != "NORMAL" && v != "FULL" {
				return c, paramError(u, "synchronous must be NORMAL or FULL")
			}
			c.Synchronous = v
		case "busy_timeout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return c, paramError(u, "busy_timeout must be milliseconds")
			}
			c.BusyTimeout = n
		default:
			return c, paramError(u, fmt.Sprintf("unknown parameter %q (accepted: synchronous, busy_timeout)", k))
		}
	}
	return c, nil
}

// urlPath returns the file path that rest, the part of the sqlite: URL u
// between "sqlite:" and its query, names.
func urlPath(u, rest string) (string, error) {
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		if after == "" {
			return "", store.UnsupportedURL(u, "sqlite:// names no file (SQLAlchemy reads it as an in-memory database: write sqlite::memory: for that)")
		}
		host, path, _ := strings.Cut(after, "/")
		if host != "" {
			return "", store.UnsupportedURL(u, "sqlite:// is followed by a host, and a SQLite file has none: write sqlite:path, or sqlite:///path as SQLAlchemy does")
		}
		rest = path // sqlite:///app.db is app.db, sqlite:////var/app.db is /var/app.db
	}
	switch {
	case rest == "":
		return "", store.UnsupportedURL(u, "the URL names no file")
	case strings.HasPrefix(rest, "~"):
		return "", store.UnsupportedURL(u, "~ is not expanded: write the absolute path instead")
	}
	return rest, nil
}

// paramError reports a bad query parameter of the URL u.
func paramError(u, why string) error {
	return fmt.Errorf("%w %q: %s", store.ErrUnsupportedURL, store.RedactURL(u), why)
}
