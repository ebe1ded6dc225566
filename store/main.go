// Command store serves the MongoDB wire protocol on loopback, backed by SQLite,
// by embedding FerretDB. It stands in for mongod on machines where no MongoDB
// server can be installed; the services talk to it with the official driver.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (port 0 picks a free one)")
	dataDir := flag.String("data", ".data/store", "directory holding the SQLite files")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	syncMode := flag.String("sync", "normal", "SQLite synchronous mode: normal (survives a crash of any process, not a power cut) or full (fsync on every commit)")
	pprofAddr := flag.String("pprof", "", "if set, serve Go's profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail("bad -log-level %q: %v", *logLevel, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		fail("bad -data %q: %v", *dataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail("cannot create data directory %s: %v", dir, err)
	}

	if *syncMode != "normal" && *syncMode != "full" {
		fail("bad -sync %q: must be normal or full", *syncMode)
	}
	if *pprofAddr != "" && !strings.HasPrefix(*pprofAddr, "127.0.0.1:") && !strings.HasPrefix(*pprofAddr, "localhost:") {
		fail("bad -pprof %q: must be a loopback address", *pprofAddr)
	}
	// FerretDB adds WAL journaling itself; in WAL mode synchronous=NORMAL
	// fsyncs at checkpoints instead of every commit, which is what makes a
	// local store keep up with the mesh on a laptop disk.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/?_pragma=synchronous(" + strings.ToUpper(*syncMode) + ")",
	})
	if err != nil {
		fail("cannot start FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go keepIDIndexes(ctx, dir, logger)

	// Where the store's CPU goes under the mesh's load is the question every
	// performance change starts from: `go tool pprof http://<addr>/debug/pprof/profile`.
	if *pprofAddr != "" {
		go func() {
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				logger.Error("pprof listener stopped", "error", err)
			}
		}()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	// The listener is bound by New, so the address is known now; launchers
	// read this one line to learn the port when they asked for port 0.
	fmt.Printf("ready %s\n", f.MongoDBURI())
	<-done
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "store: "+format+"\n", args...)
	os.Exit(1)
}
