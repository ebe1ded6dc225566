package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB itself registers and uses
)

// FerretDB v1.24 looks documents up by _id with the SQLite expression
// _ferretdb_sjson->'$._id', but indexes _id on a different expression, so
// SQLite never uses that index and every lookup by _id scans the table.
// This keeps an index on the exact lookup expression for every collection,
// created as collections appear (and for data written by older builds).
func keepIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	dbs := map[string]*sql.DB{}
	done := map[string]bool{}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			db, ok := dbs[file]
			if !ok {
				var err error
				db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
				if err != nil {
					logger.Warn("cannot open for _id indexes", "file", file, "error", err)
					continue
				}
				dbs[file] = db
			}
			indexTables(ctx, db, file, done, logger)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func indexTables(ctx context.Context, db *sql.DB, file string, done map[string]bool, logger *slog.Logger) {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return // a database FerretDB has not finished creating
	}
	var tables []string
	for rows.Next() {
		var t string
		if rows.Scan(&t) == nil {
			tables = append(tables, t)
		}
	}
	rows.Close()
	for _, t := range tables {
		key := file + "/" + t
		if done[key] {
			continue
		}
		q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"__id_lookup", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			logger.Warn("cannot create _id lookup index", "table", t, "error", err)
			continue
		}
		done[key] = true
	}
}
