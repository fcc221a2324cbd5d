// Package pgschema gives tests PostgreSQL schemas of their own: each test
// gets a new schema on the server of a base URL, dropped when it ends.
package pgschema

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver Drop opens
)

// Name returns a new schema name that begins with prefix.
func Name(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// URL returns base with schema as its schema parameter, in base's own
// form: a URL's query or a key=value connection string.
func URL(base, schema string) string {
	switch {
	case !strings.Contains(base, "://"):
		return base + " schema=" + schema
	case strings.Contains(base, "?"):
		return base + "&schema=" + schema
	}
	return base + "?schema=" + schema
}

// Drop drops schema, with everything in it, on base's server.
func Drop(base, schema string) error {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
	return err
}

// ForTest returns the URL of a new schema on base's server, dropped when
// t ends.
func ForTest(t testing.TB, base string) string {
	schema := Name("t_")
	t.Cleanup(func() {
		if err := Drop(base, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return URL(base, schema)
}
