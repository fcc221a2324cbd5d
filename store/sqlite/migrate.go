package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

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
// names are NNNN_name.sql; numbers are unique and never reused.
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

// migrate applies the migrations the database lacks. Each runs in its own
// BEGIN IMMEDIATE transaction that first re-reads the applied versions, so
// two processes opening a new file at the same moment apply each migration
// exactly once: the second waits for the write lock, then sees it applied.
// A database that a newer program has migrated further than this one knows
// is refused with a *store.SchemaError, and nothing in it is changed.
func migrate(ctx context.Context, db *sqlx.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	known := ms[len(ms)-1].version
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		err := applyMigration(ctx, db, m, known)
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

// applyMigration applies m unless it is applied already. In the same
// transaction it checks that no migration past known, the newest this
// program embeds, is applied: a newer program may migrate the file while
// this one starts.
func applyMigration(ctx context.Context, db *sqlx.DB, m migration, known int) error {
	tx, err := db.BeginTxx(ctx, nil) // BEGIN IMMEDIATE: the DSN sets _txlock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var newest int
	if err := tx.GetContext(ctx, &newest, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err != nil {
		return err
	}
	if newest > known {
		return &store.SchemaError{Version: newest, Known: known}
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// checkSchema refuses, reading only, a database this program would have
// to create or migrate before using it: store.ErrNotFound if it holds no
// system database, a *store.SchemaError if its schema is older or newer
// than this program's.
func checkSchema(ctx context.Context, db *sqlx.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	known := ms[len(ms)-1].version
	var tables int
	if err := db.GetContext(ctx, &tables, `SELECT count(*) FROM sqlite_master
		WHERE type = 'table' AND name = 'schema_migrations'`); err != nil {
		return err
	}
	if tables == 0 {
		return fmt.Errorf("the file holds no system database: %w", store.ErrNotFound)
	}
	var newest int
	if err := db.GetContext(ctx, &newest, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err != nil {
		return err
	}
	if newest != known {
		return &store.SchemaError{Version: newest, Known: known}
	}
	return nil
}
