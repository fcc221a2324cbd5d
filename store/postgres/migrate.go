package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

//go:embed migration/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order. File
// names are NNNN_name.sql, with the numbers of store/sqlite's.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimPrefix(f, "migration/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// lockKey returns the key of a transaction-level advisory lock: a hash of
// what the lock is for (a domain such as "migrate" or "queue") and its
// names, so that the locks of two schemas, or of two queues, are two
// locks. Advisory locks are shared by the whole database; a collision
// with another program's key costs a wait, not an error.
func lockKey(domain string, names ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte("dboslite/" + domain))
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n))
	}
	return int64(h.Sum64())
}

// migrate creates the schema and applies the migrations it lacks. Each
// runs in its own transaction that first takes the schema's advisory lock
// (pg_advisory_xact_lock, released at commit) and reads the applied
// versions again, so that several processes opening a new schema at once
// apply each migration exactly once: the others wait for the lock, then
// see it applied. A schema that a newer program has migrated further
// than this one knows is refused with a *store.SchemaError, and nothing
// in it is changed.
func migrate(ctx context.Context, db *sqlx.DB, schema string) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	known := ms[len(ms)-1].version
	for _, m := range ms {
		err := applyMigration(ctx, db, schema, m, known)
		var tooNew *store.SchemaError
		if errors.As(err, &tooNew) {
			return err // about the database, not this migration
		}
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// applyMigration applies m unless it is applied already, under the
// schema's lock. In the same transaction it creates the schema and the
// table of applied versions if they are missing, and checks that no
// migration past known, the newest this program embeds, is applied: a
// newer program may migrate the schema while this one starts.
func applyMigration(ctx context.Context, db *sqlx.DB, schema string, m migration, known int) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("migrate", schema)); err != nil {
		return err
	}
	if err := prepareSchema(ctx, tx, schema); err != nil {
		return err
	}
	var newest int
	if err := tx.GetContext(ctx, &newest, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err != nil {
		return err
	}
	if newest > known {
		return &store.SchemaError{Version: newest, Known: known}
	}
	var applied bool
	if err := tx.GetContext(ctx, &applied, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
		m.version); err != nil {
		return err
	}
	if applied {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES ($1, $2, `+dbNow+`)`, m.version, m.name); err != nil {
		return err
	}
	return tx.Commit()
}

// prepareSchema creates the schema and its table of applied migrations
// unless they exist. It looks before it creates: CREATE SCHEMA needs the
// CREATE privilege on the database even with IF NOT EXISTS, which a role
// given only an existing schema lacks.
func prepareSchema(ctx context.Context, tx *sqlx.Tx, schema string) error {
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+quoteIdent(schema)); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
	}
	if err := tx.GetContext(ctx, &exists, `SELECT to_regclass($1) IS NOT NULL`, quoteIdent(schema)+".schema_migrations"); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE `+quoteIdent(schema)+`.schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`)
	return err
}

// quoteIdent quotes an identifier for SQL.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// checkSchema refuses, reading only, a schema this program would have to
// create or migrate before using it: store.ErrNotFound if it does not
// exist or holds no system database, a *store.SchemaError if it is older
// or newer than this program's.
func checkSchema(ctx context.Context, db *sqlx.DB, schema string) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	known := ms[len(ms)-1].version
	table := quoteIdent(schema) + ".schema_migrations"
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT to_regclass($1) IS NOT NULL`, table); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("schema %q holds no system database: %w", schema, store.ErrNotFound)
	}
	var newest int
	if err := db.GetContext(ctx, &newest, `SELECT coalesce(max(version), 0) FROM `+table); err != nil {
		return err
	}
	if newest != known {
		return &store.SchemaError{Version: newest, Known: known}
	}
	return nil
}
