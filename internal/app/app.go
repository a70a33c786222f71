// Package app wires childcase together: it opens the database, loads the
// reference data, starts the gRPC and HTTP servers and shuts them down in
// reverse order. Tests start the real service through Start on random ports.
// It must not hold business logic.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/grpcapi"
	"github.com/childcase/childcase/internal/transport/httpapi"
)

// Config is the service's configuration. Every field has a flag and an
// environment variable (see package cli).
type Config struct {
	DBPath          string        // bbolt file, created when missing
	GRPCAddr        string        // host:port for gRPC
	HTTPAddr        string        // host:port for REST, /openapi.json and /healthz
	ShutdownTimeout time.Duration // how long in-flight requests get to finish
}

// DefaultConfig returns the embedded default: a local file and localhost
// ports, nothing else to install.
func DefaultConfig() Config {
	return Config{
		DBPath:          "childcase.db",
		GRPCAddr:        "localhost:9111",
		HTTPAddr:        "localhost:8111",
		ShutdownTimeout: 15 * time.Second,
	}
}

// Validate reports the first problem with c, naming the setting.
func (c Config) Validate() error {
	if c.DBPath == "" {
		return errors.New("config: db: a database path is required")
	}
	for name, addr := range map[string]string{"grpc-addr": c.GRPCAddr, "http-addr": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("config: %s: %q is not host:port: %w", name, addr, err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("config: shutdown-timeout: must be positive")
	}
	return nil
}

// Options are what tests inject; production uses the zero value.
type Options struct {
	Clock  clock.Clock  // default: the system clock
	Logger *slog.Logger // default: slog.Default()
	// NoSync skips fsync; only for tests and benchmarks.
	NoSync bool
}

// Server is a running childcase.
type Server struct {
	cfg      Config
	log      *slog.Logger
	grpcAddr net.Addr
	httpAddr net.Addr

	closers []func(context.Context) error // unwound in reverse by Stop
	done    chan struct{}
	errOnce sync.Once
	err     error
}

// GRPCAddr is the address gRPC listens on.
func (s *Server) GRPCAddr() string { return s.grpcAddr.String() }

// HTTPAddr is the address HTTP listens on.
func (s *Server) HTTPAddr() string { return s.httpAddr.String() }

// Start opens everything in order and starts serving. On error, what was
// already opened is closed again.
func Start(ctx context.Context, cfg Config, opts Options) (srv *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: opts.Logger, done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.unwind(context.Background())
		}
	}()

	reg, err := units.Load()
	if err != nil {
		return nil, err
	}

	store, err := boltstore.Open(cfg.DBPath, boltstore.Options{NoSync: opts.NoSync})
	if err != nil {
		return nil, err
	}
	s.push(func(context.Context) error { return store.Close() })

	svc := intake.New(store, reg, opts.Clock, opts.Logger)
	gs, err := grpcapi.NewServer(grpcapi.Deps{Intake: svc, Units: reg, Clock: opts.Clock, Log: opts.Logger})
	if err != nil {
		return nil, err
	}
	glis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("listen grpc %s: %w", cfg.GRPCAddr, err)
	}
	s.grpcAddr = glis.Addr()
	go func() {
		if err := gs.Serve(glis); err != nil {
			s.fail(fmt.Errorf("grpc server: %w", err))
		}
	}()
	s.push(func(ctx context.Context) error {
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			gs.Stop() // in-flight requests had their time
		}
		return nil
	})

	// The gateway dials our own gRPC server so every interceptor runs for
	// REST too.
	conn, err := grpc.NewClient(s.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial own grpc server: %w", err)
	}
	s.push(func(context.Context) error { return conn.Close() })
	handler, err := httpapi.NewHandler(ctx, conn)
	if err != nil {
		return nil, err
	}
	hlis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	s.httpAddr = hlis.Addr()
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(hlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	s.push(func(ctx context.Context) error { return hs.Shutdown(ctx) })
	// Health goes NOT_SERVING first on shutdown, so load balancers stop
	// sending before anything closes.
	s.push(func(context.Context) error {
		gs.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		return nil
	})

	opts.Logger.Info("childcase serving",
		"grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "db", cfg.DBPath,
		"shutdown_timeout", cfg.ShutdownTimeout.String())
	return s, nil
}

func (s *Server) push(f func(context.Context) error) { s.closers = append(s.closers, f) }

func (s *Server) unwind(ctx context.Context) error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// fail records a serving error; Wait returns it.
func (s *Server) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Done is closed when a server stopped on its own with an error.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the error that closed Done.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Stop shuts down in reverse order of start: health NOT_SERVING, HTTP
// shutdown, gRPC graceful stop, then the database, giving in-flight requests
// up to the configured timeout.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.unwind(ctx)
	s.log.Info("childcase stopped")
	return err
}

// Run starts the service and serves until ctx is cancelled (a signal) or a
// server fails, then shuts down.
func Run(ctx context.Context, cfg Config, opts Options) error {
	s, err := Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	return errors.Join(s.Err(), s.Stop())
}
