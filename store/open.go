package store

import (
	"context"
	"sync"
)

// Opener opens a store from a URL whose scheme it registered for, as o
// says. The "postgres" opener also receives postgresql:// URLs and libpq
// key=value connection strings, whose Scheme is "postgres" too.
type Opener func(ctx context.Context, url string, o OpenOptions) (Store, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a backend available to Open for URLs with this scheme
// ("sqlite", "postgres"). It panics if the scheme is empty or registered
// twice, as database/sql.Register does for drivers.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if scheme == "" {
		panic("store: Register called with an empty scheme")
	}
	if _, dup := openers[scheme]; dup {
		panic("store: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Open opens the store named by url, which takes one of these forms:
//
//	sqlite:app.db             a file relative to the working directory
//	sqlite:/var/app.db        an absolute path
//	sqlite::memory:           an in-memory database
//	sqlite:///app.db          SQLAlchemy's form, as DBOS Python writes it: relative
//	sqlite:////var/app.db     SQLAlchemy's absolute path
//	postgres://…, postgresql://…
//	host=… dbname=…           a libpq key=value connection string
//
// Anything else — a bare file path, sqlite:~/…, sqlite://host/…, a file:
// URI, another scheme — is refused with an error matching
// ErrUnsupportedURL that lists these forms. The backend of the URL's
// scheme must be linked in: store/sqlite always is by package durable,
// store/postgres only by a blank import, which the error names.
func Open(ctx context.Context, url string) (Store, error) {
	return OpenWith(ctx, url, OpenOptions{})
}

// OpenWith opens the store named by url, as Open does, the way o says.
func OpenWith(ctx context.Context, url string, o OpenOptions) (Store, error) {
	scheme := Scheme(url)
	openersMu.RLock()
	open, ok := openers[scheme]
	openersMu.RUnlock()
	if !ok {
		return nil, refuse(url, scheme)
	}
	if o.ReadOnly {
		o.Existing = true
	}
	return open(ctx, url, o)
}
