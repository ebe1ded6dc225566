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
//
// Each pass asks SQLite which collection tables lack the index rather than
// remembering which it has indexed: FerretDB gives a collection that is
// dropped and created again the same table name, and the new table starts
// without the index.
func keepIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	dbs := map[string]*sql.DB{}
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
			indexTables(ctx, db, logger)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// idIndexSuffix names the lookup index after its table.
const idIndexSuffix = "__id_lookup"

// indexTables creates the lookup index on every collection table that lacks
// it: one read of the schema when nothing is missing.
func indexTables(ctx context.Context, db *sql.DB, logger *slog.Logger) {
	rows, err := db.QueryContext(ctx, `
		SELECT c.table_name FROM "_ferretdb_collections" c
		WHERE EXISTS (SELECT 1 FROM sqlite_master t WHERE t.type = 'table' AND t.name = c.table_name)
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = c.table_name || ?)`, idIndexSuffix)
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
		q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+idIndexSuffix, t)
		if _, err := db.ExecContext(ctx, q); err != nil && ctx.Err() == nil {
			logger.Warn("cannot create _id lookup index", "table", t, "error", err)
		}
	}
}
