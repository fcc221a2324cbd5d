package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dboslite/dboslite/store"
)

// The defaults of the parameters a URL may set.
const (
	DefaultSchema   = "dboslite"
	DefaultMaxConns = 16
	// DefaultConnectTimeout bounds each connection attempt when the URL
	// sets no connect_timeout, so that an unreachable server fails Open
	// within seconds rather than after the operating system's TCP timeout.
	DefaultConnectTimeout = 5 * time.Second
)

// Config is what a postgres URL says.
type Config struct {
	// Conn is the connection configuration pgx parsed, without this
	// package's own parameters.
	Conn *pgx.ConnConfig
	// Schema holds every table. Defaults to DefaultSchema.
	Schema string
	// MaxConns bounds the pool of connections; the connection that
	// listens for notifications is one more. Defaults to DefaultMaxConns.
	MaxConns int
}

// schemaRE is what a schema name may be: a lower-case identifier that
// needs no quoting, short enough that the notification channel named for
// it ("dboslite_" + schema) fits PostgreSQL's 63 bytes.
var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,53}$`)

// ParseURL reads a postgres://, postgresql:// or libpq key=value system
// database URL, as pgx reads it, with two parameters of its own, removed
// before pgx's configuration is used to connect:
//
//	schema=name    the schema of every table (default dboslite): a
//	               lower-case identifier of at most 54 bytes
//	max_conns=n    the pool's bound (default 16)
//
// Without a positive connect_timeout, each connection attempt is bounded
// by DefaultConnectTimeout. Taking the two parameters from what pgx
// parsed, rather than from the text before it, reads them exactly as pgx
// reads the others, in both forms (percent-encoding, quoting). search_path is set by the schema and may not be
// given. Every refusal matches store.ErrUnsupportedURL and shows the URL
// without its password.
func ParseURL(u string) (Config, error) {
	c := Config{Schema: DefaultSchema, MaxConns: DefaultMaxConns}
	if store.Scheme(u) != "postgres" {
		return c, store.UnsupportedURL(u, "not a postgres URL")
	}
	conn, err := pgx.ParseConfig(u)
	if err != nil {
		return c, store.UnsupportedURL(u, parseError(err))
	}
	if hostHasAt(conn) {
		// pgx took the user information to end at the first '@', and
		// the rest of the password for a host, which errors would show.
		return c, store.UnsupportedURL(u, "a password with reserved characters such as @ must be percent-encoded")
	}
	// pgx passes the parameters it does not know to the server as run-time
	// settings; the server would refuse these two.
	params := conn.RuntimeParams
	if v, ok := params["schema"]; ok {
		delete(params, "schema")
		if !schemaRE.MatchString(v) || strings.HasPrefix(v, "pg_") {
			return c, store.UnsupportedURL(u, fmt.Sprintf("schema %q is not a lower-case identifier of at most 54 bytes (letters, digits, _; not pg_…)", v))
		}
		c.Schema = v
	}
	if v, ok := params["max_conns"]; ok {
		delete(params, "max_conns")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, store.UnsupportedURL(u, fmt.Sprintf("max_conns %q is not a positive number", v))
		}
		c.MaxConns = n
	}
	if _, ok := params["search_path"]; ok {
		return c, store.UnsupportedURL(u, "search_path is set by the schema parameter: write schema=name instead")
	}
	params["search_path"] = c.Schema
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "dboslite"
	}
	if conn.ConnectTimeout == 0 {
		conn.ConnectTimeout = DefaultConnectTimeout
	}
	c.Conn = conn
	return c, nil
}

// parseError says why pgx refused a URL without quoting it: pgx's own
// message and the net/url error inside it may show part of the password.
func parseError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "it does not parse as a URL (a password with reserved characters must be percent-encoded)"
	}
	return "it does not parse as a postgres URL or a key=value connection string"
}

// hostHasAt reports whether a host pgx parsed holds an '@', which no host
// name does: it is the rest of a password that was not percent-encoded.
func hostHasAt(conn *pgx.ConnConfig) bool {
	if strings.Contains(conn.Host, "@") {
		return true
	}
	for _, fb := range conn.Fallbacks {
		if strings.Contains(fb.Host, "@") {
			return true
		}
	}
	return false
}
